using Grid.Policy.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Grid.Policy.Qwen;

/// <summary>
/// The Qwen2 decoder (the checkpoint's "model.*"): token embedding, pre-RMSNorm layers of grouped-query attention
/// (q/k/v with bias, o without) under multimodal rotary embeddings, SwiGLU MLPs, and a final RMSNorm.
/// M-RoPE: each rotary frequency pair takes its angle from one of the three position axes (temporal, height,
/// width), the first mrope_section[0] pairs from the temporal axis, the next mrope_section[1] from height, the rest
/// from width; text tokens have the same position on all three axes, which makes it ordinary RoPE for them.
/// </summary>
public sealed class QwenTextDecoder : nn.Module
{
    private readonly Embedding embed_tokens;
    private readonly ModuleList<DecoderLayer> layers;
    private readonly QwenRmsNorm norm;
    private readonly float[] _inverseFrequencies;
    private readonly long[] _axisOfFrequency;

    public QwenTextDecoder(QwenVLConfig config) : base(nameof(QwenTextDecoder))
    {
        embed_tokens = nn.Embedding(config.VocabSize, config.HiddenSize);
        layers = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new DecoderLayer(config)).ToArray());
        norm = new QwenRmsNorm(config.HiddenSize, config.RmsNormEps);
        int half = config.HeadDim / 2;
        _inverseFrequencies = Enumerable.Range(0, half)
            .Select(i => (float)(1.0 / Math.Pow(config.RopeTheta, (float)(2 * i) / config.HeadDim))).ToArray();
        _axisOfFrequency = new long[half];
        int at = 0;
        for (int axis = 0; axis < 3; axis++)
        {
            for (int i = 0; i < config.MropeSection[axis]; i++)
            {
                _axisOfFrequency[at++] = axis;
            }
        }

        RegisterComponents();
    }

    /// <summary>The token embedding matrix [vocab, hidden] (the LM head's weight when embeddings are tied).</summary>
    public Parameter EmbeddingWeight => embed_tokens.weight!;

    public Tensor Embed(Tensor inputIds) => embed_tokens.forward(inputIds);

    /// <summary>
    /// Runs every layer over <paramref name="embeddings"/> [B, L, H] at <paramref name="positions"/> [3, B, L] and returns
    /// the final-normed hidden states. <paramref name="mask"/> [B, 1, L, K] bool (true = may attend) or null for plain
    /// causal attention from slot 0. With a cache the keys and values land at the cache's length and attention runs
    /// over everything written so far.
    /// </summary>
    internal Tensor Forward(Tensor embeddings, Tensor positions, Tensor? mask, KvCache? cache)
    {
        var (cos, sin) = RotaryCosSin(positions);
        var x = embeddings;
        for (int i = 0; i < layers.Count; i++)
        {
            x = layers[i].Forward(x, cos, sin, mask, cache, i);
        }

        return norm.forward(x);
    }

    /// <summary>cos and sin [B, 1, L, head_dim] of the M-RoPE angles for positions [3, B, L].</summary>
    private (Tensor Cos, Tensor Sin) RotaryCosSin(Tensor positions)
    {
        var device = positions.device;
        long batch = positions.shape[1], length = positions.shape[2];
        int half = _inverseFrequencies.Length;
        var angles = positions.to(ScalarType.Float32).unsqueeze(-1) * tensor(_inverseFrequencies, device: device);
        var axis = tensor(_axisOfFrequency, device: device).view(1, 1, 1, half).expand(1, batch, length, half);
        var chosen = angles.gather(0, axis).squeeze(0);
        var emb = cat([chosen, chosen], dim: -1).unsqueeze(1);
        return (emb.cos(), emb.sin());
    }

    private sealed class DecoderLayer : nn.Module
    {
        private readonly QwenRmsNorm input_layernorm;
        private readonly Attention self_attn;
        private readonly QwenRmsNorm post_attention_layernorm;
        private readonly Mlp mlp;

        public DecoderLayer(QwenVLConfig config) : base(nameof(DecoderLayer))
        {
            input_layernorm = new QwenRmsNorm(config.HiddenSize, config.RmsNormEps);
            self_attn = new Attention(config);
            post_attention_layernorm = new QwenRmsNorm(config.HiddenSize, config.RmsNormEps);
            mlp = new Mlp(config);
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache, int layer)
        {
            x = x + self_attn.Forward(input_layernorm.forward(x), cos, sin, mask, cache, layer);
            return x + mlp.forward(post_attention_layernorm.forward(x));
        }
    }

    private sealed class Attention : nn.Module
    {
        private readonly Linear q_proj;
        private readonly Linear k_proj;
        private readonly Linear v_proj;
        private readonly Linear o_proj;
        private readonly int _heads;
        private readonly int _kvHeads;
        private readonly int _headDim;

        public Attention(QwenVLConfig config) : base(nameof(Attention))
        {
            _heads = config.NumAttentionHeads;
            _kvHeads = config.NumKeyValueHeads;
            _headDim = config.HeadDim;
            q_proj = nn.Linear(config.HiddenSize, _heads * _headDim);
            k_proj = nn.Linear(config.HiddenSize, _kvHeads * _headDim);
            v_proj = nn.Linear(config.HiddenSize, _kvHeads * _headDim);
            o_proj = nn.Linear(_heads * _headDim, config.HiddenSize, hasBias: false);
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache, int layer)
        {
            long batch = x.shape[0], length = x.shape[1];
            var q = q_proj.forward(x).view(batch, length, _heads, _headDim).transpose(1, 2);
            var k = k_proj.forward(x).view(batch, length, _kvHeads, _headDim).transpose(1, 2);
            var v = v_proj.forward(x).view(batch, length, _kvHeads, _headDim).transpose(1, 2);
            q = (q * cos) + (RotateHalf(q) * sin);
            k = (k * cos) + (RotateHalf(k) * sin);
            if (cache is not null)
            {
                cache.Keys(layer, cache.Length, (int)length).copy_(k);
                cache.Values(layer, cache.Length, (int)length).copy_(v);
                k = cache.Keys(layer, 0, cache.Length + (int)length);
                v = cache.Values(layer, 0, cache.Length + (int)length);
            }

            int groups = _heads / _kvHeads;
            if (groups > 1)
            {
                // repeat_kv: query head h reads key/value head h / groups.
                long keys = k.shape[2];
                k = k.unsqueeze(2).expand(batch, _kvHeads, groups, keys, _headDim).reshape(batch, _heads, keys, _headDim);
                v = v.unsqueeze(2).expand(batch, _kvHeads, groups, keys, _headDim).reshape(batch, _heads, keys, _headDim);
            }

            bool causal = mask is null && length > 1;
            if (causal && cache is not null && cache.Length != 0)
            {
                throw new InvalidOperationException("A multi-token step after cached positions needs an explicit mask.");
            }

            var y = F.scaled_dot_product_attention(q, k, v, attn_mask: mask, is_casual: causal);
            return o_proj.forward(y.transpose(1, 2).reshape(batch, length, _heads * _headDim));
        }

        private static Tensor RotateHalf(Tensor t)
        {
            long half = t.shape[^1] / 2;
            return cat([-t.narrow(-1, half, half), t.narrow(-1, 0, half)], dim: -1);
        }
    }

    /// <summary>SwiGLU: down(silu(gate(x)) * up(x)), no biases.</summary>
    private sealed class Mlp : nn.Module<Tensor, Tensor>
    {
        private readonly Linear gate_proj;
        private readonly Linear up_proj;
        private readonly Linear down_proj;

        public Mlp(QwenVLConfig config) : base(nameof(Mlp))
        {
            gate_proj = nn.Linear(config.HiddenSize, config.IntermediateSize, hasBias: false);
            up_proj = nn.Linear(config.HiddenSize, config.IntermediateSize, hasBias: false);
            down_proj = nn.Linear(config.IntermediateSize, config.HiddenSize, hasBias: false);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => down_proj.forward(F.silu(gate_proj.forward(x)) * up_proj.forward(x));
    }
}
