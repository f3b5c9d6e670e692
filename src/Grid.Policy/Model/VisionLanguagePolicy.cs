using GenerationRequest = Grid.Policy.Generation.GenerationRequest;
using Grid.Policy.Tokenization;
using Grid.Tasks.Images;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Grid.Policy.Model;

/// <summary>
/// A small decoder-only vision-language transformer (nanoGPT with an image in front).
/// The image is cut into PatchSize x PatchSize patches, each flattened and linearly embedded (+ learned patch
/// positions); with a convolutional stem (<see cref="PolicyConfig.StemChannels"/>) the patches are cut from the stem's
/// feature map instead of the pixels, so each patch token carries local edge and shape features; the patches go in front of the text tokens (token embedding + learned text positions), and causal
/// pre-LN blocks run over [patches, prompt, completion]. A final LayerNorm and the LM head give next-token logits.
/// Text positions count from 0 at BOS, independently of the patches, so left padding only needs a key mask.
/// </summary>
public sealed class VisionLanguagePolicy : PolicyModel
{
    private readonly Sequential? stem;
    private readonly Linear patch_embedding;
    private readonly Parameter patch_positions;
    private readonly Embedding token_embedding;
    private readonly Embedding text_positions;
    private readonly ModuleList<DecoderBlock> blocks;
    private readonly LayerNorm final_norm;
    private readonly Linear lm_head;

    /// <summary>Builds a policy with nanoGPT's initialisation, drawn from <paramref name="seed"/>.</summary>
    public VisionLanguagePolicy(PolicyConfig config, long seed = 0) : base(nameof(VisionLanguagePolicy))
    {
        Config = config.Validate();
        int d = config.DModel;
        if (config.StemChannels > 0)
        {
            int c = config.StemChannels;
            stem = nn.Sequential(
                ("conv1", nn.Conv2d(config.Channels, c, 3, padding: 1)), ("gelu1", nn.GELU()),
                ("conv2", nn.Conv2d(c, c, 3, stride: 2, padding: 1)), ("gelu2", nn.GELU()),
                ("conv3", nn.Conv2d(c, c, 3, stride: 2, padding: 1)), ("gelu3", nn.GELU()));
        }

        patch_embedding = nn.Linear(config.PatchDimension, d);
        patch_positions = nn.Parameter(zeros(config.PatchCount, d));
        token_embedding = nn.Embedding(config.VocabSize, d);
        text_positions = nn.Embedding(config.MaxTextLength, d);
        blocks = nn.ModuleList(Enumerable.Range(0, config.Layers).Select(_ => new DecoderBlock(config)).ToArray());
        final_norm = nn.LayerNorm(d);
        lm_head = nn.Linear(d, config.VocabSize, hasBias: false);
        RegisterComponents();
        Initialize(seed);
    }

    public PolicyConfig Config { get; }

    public override Device Device => lm_head.weight!.device;

    public override string Shape => Config.ToString();

    public override int VocabSize => Config.VocabSize;

    public override int PadId => Tokenizer.PadId;

    /// <summary>The image patches sit in front of the text in every row.</summary>
    public override int PrefixLength => Config.PatchCount;

    public override int MaxTextLength => Config.MaxTextLength;

    public override bool IsEndOfCompletion(int token) => token == Tokenizer.EosId;

    /// <summary>Images as the model reads them: [B, H, W, C] float32 in [-1, 1].</summary>
    public Tensor ImagesToTensor(IReadOnlyList<RgbImage?> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        int size = Config.ImageSize;
        if (Config.Channels != 3)
        {
            throw new InvalidOperationException($"RgbImage has 3 channels but the policy expects {Config.Channels}.");
        }

        var values = new float[images.Count * size * size * 3];
        for (int b = 0; b < images.Count; b++)
        {
            var image = images[b] ?? throw new ArgumentException($"Image {b} is null.", nameof(images));
            if (image.Width != size || image.Height != size)
            {
                throw new ArgumentException(
                    $"Image {b} is {image.Width}x{image.Height}; this policy reads {size}x{size} images.", nameof(images));
            }

            int offset = b * size * size * 3;
            for (int i = 0; i < image.Pixels.Length; i++)
            {
                values[offset + i] = (image.Pixels[i] / 127.5f) - 1f;
            }
        }

        return tensor(values, [images.Count, size, size, 3], device: Device);
    }

    /// <summary>
    /// Training forward: logits [B, T, V] for the text tokens [B, T] after image [B, H, W, C]; logits[:, i] predicts
    /// token i + 1. Fully causal over [patches, text]; rows are right-padded, so no mask is needed.
    /// </summary>
    public Tensor forward(Tensor images, Tensor tokens)
    {
        using var scope = NewDisposeScope();
        return lm_head.forward(TextHiddenStates(images, tokens)).MoveToOuterDisposeScope();
    }

    /// <summary>The final-LayerNorm hidden states of the text positions [B, T, D]; <see cref="Logits"/> maps them to logits.</summary>
    public Tensor TextHiddenStates(Tensor images, Tensor tokens)
    {
        using var scope = NewDisposeScope();
        long batch = tokens.shape[0], length = tokens.shape[1];
        if (length > Config.MaxTextLength)
        {
            throw new ArgumentException(
                $"{length} text tokens do not fit: the policy has room for {Config.MaxTextLength} after the {Config.PatchCount} patches.");
        }

        var positions = arange(length, dtype: ScalarType.Int64, device: Device).expand(batch, length);
        var x = cat([EmbedImages(images), EmbedText(tokens, positions)], dim: 1);
        foreach (var block in blocks)
        {
            x = block.Forward(x, cache: null, layer: 0, mask: null);
        }

        return final_norm.forward(x).narrow(1, Config.PatchCount, length).MoveToOuterDisposeScope();
    }

    /// <summary>Right padding needs no mask here: the causal attention of a real token never reaches a later pad.</summary>
    public override Tensor TextHiddenStates(IReadOnlyList<RgbImage?> images, Tensor tokens, int[] lengths) =>
        TextHiddenStates(ImagesToTensor(images), tokens);

    public override Tensor Logits(Tensor hidden) => lm_head.forward(hidden);

    public override KvCache NewCache(int batchSize, int capacity) =>
        new(Config.Layers, Config.Heads, Config.HeadDimension, Config.MaxSequenceLength, batchSize, capacity, Device);

    /// <summary>
    /// Prompts of different lengths are left-padded between the image patches and BOS; padding is masked out and text
    /// positions count per row, so each row computes what it would alone.
    /// </summary>
    public override Tensor Prefill(IReadOnlyList<GenerationRequest> requests, int longest, KvCache cache)
    {
        int batch = requests.Count;
        var tokens = new long[batch * longest];
        var positions = new long[batch * longest];
        var isReal = new bool[batch * longest];
        bool padded = false;
        for (int b = 0; b < batch; b++)
        {
            var prompt = requests[b].PromptTokens;
            int pad = longest - prompt.Length;
            padded |= pad > 0;
            for (int j = 0; j < longest; j++)
            {
                int index = (b * longest) + j;
                tokens[index] = j < pad ? PadId : prompt[j - pad];
                positions[index] = Math.Max(0, j - pad);
                isReal[index] = j >= pad;
            }
        }

        return Prefill(
            ImagesToTensor(requests.Select(r => r.Image).ToArray()),
            tensor(tokens, [batch, longest], device: Device),
            tensor(positions, [batch, longest], device: Device),
            padded ? tensor(isReal, [batch, longest], device: Device) : null,
            cache);
    }

    /// <summary>
    /// Fills an empty cache with the image patches and the (left-padded) prompts and returns the logits of the last
    /// position [B, V]. <paramref name="textPositions"/> [B, T] are each token's position within its own text (0 at
    /// BOS); <paramref name="isRealToken"/> [B, T] bool is false for left padding, or null when no row is padded.
    /// </summary>
    public Tensor Prefill(Tensor images, Tensor tokens, Tensor textPositions, Tensor? isRealToken, KvCache cache)
    {
        if (cache.Length != 0)
        {
            throw new InvalidOperationException("Prefill needs an empty cache.");
        }

        using var scope = NewDisposeScope();
        long batch = tokens.shape[0], length = Config.PatchCount + tokens.shape[1];
        Tensor? mask = null;
        if (isRealToken is not null)
        {
            var keyIsReal = cat([ones(batch, Config.PatchCount, dtype: ScalarType.Bool, device: Device), isRealToken], dim: 1);
            cache.KeyIsReal((int)length).copy_(keyIsReal.view(batch, 1, 1, length));
            cache.HasPadding = true;
            var causal = ones(length, length, dtype: ScalarType.Bool, device: Device).tril();
            mask = causal.view(1, 1, length, length).logical_and(keyIsReal.view(batch, 1, 1, length));
        }

        var x = cat([EmbedImages(images), EmbedText(tokens, textPositions)], dim: 1);
        for (int layer = 0; layer < blocks.Count; layer++)
        {
            x = blocks[layer].Forward(x, cache, layer, mask);
        }

        cache.Length = (int)length;
        var last = x.narrow(1, length - 1, 1).squeeze(1);
        return lm_head.forward(final_norm.forward(last)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Feeds one token per row ([B] tokens at [B] text positions) after what the cache holds and returns the
    /// next-token logits [B, V]. No causal mask is needed: the new query may see every cached key.
    /// </summary>
    public override Tensor DecodeStep(Tensor tokens, Tensor textPositions, KvCache cache)
    {
        if (cache.Length == 0 || cache.Length >= cache.Capacity)
        {
            throw new InvalidOperationException(
                $"A decode step needs a prefilled cache with room left; it holds {cache.Length} of {cache.Capacity} positions.");
        }

        using var scope = NewDisposeScope();
        var mask = cache.HasPadding ? cache.KeyIsReal(cache.Length + 1) : null;
        var x = EmbedText(tokens.view(-1, 1), textPositions.view(-1, 1));
        for (int layer = 0; layer < blocks.Count; layer++)
        {
            x = blocks[layer].Forward(x, cache, layer, mask);
        }

        cache.Length++;
        return lm_head.forward(final_norm.forward(x.squeeze(1))).MoveToOuterDisposeScope();
    }

    /// <summary>[B, H, W, C] -> [B, PatchCount, D]: each patch flattened (row, column, channel) and embedded.</summary>
    private Tensor EmbedImages(Tensor images)
    {
        long batch = images.shape[0];
        int side = Config.PatchesPerSide, p = Config.PatchSize, channels = Config.Channels;
        if (stem is not null)
        {
            // The stem works channels-first and shrinks each side by StemStride; its features go back to channels-last.
            images = stem.forward(images.permute(0, 3, 1, 2)).permute(0, 2, 3, 1);
            p /= PolicyConfig.StemStride;
            channels = Config.StemChannels;
        }

        var patches = images
            .reshape(batch, side, p, side, p, channels)
            .permute(0, 1, 3, 2, 4, 5)
            .reshape(batch, Config.PatchCount, Config.PatchDimension);
        return patch_embedding.forward(patches) + patch_positions;
    }

    private Tensor EmbedText(Tensor tokens, Tensor positions) =>
        token_embedding.forward(tokens) + text_positions.forward(positions);

    /// <summary>nanoGPT: N(0, 0.02) weights, zero biases, residual projections scaled by 1/sqrt(2 * layers).</summary>
    private void Initialize(long seed)
    {
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        double residualStd = 0.02 / Math.Sqrt(2.0 * Config.Layers);
        foreach (var (name, parameter) in named_parameters())
        {
            if (name.Contains("norm", StringComparison.Ordinal))
            {
                continue; // LayerNorm keeps (1, 0)
            }

            if (name.EndsWith(".bias", StringComparison.Ordinal))
            {
                // Zeroed here: nn.Linear's constructor draws its bias from torch's global generator, which other
                // threads share, so leaving it made the "same seed, same policy" promise false under parallel use.
                parameter.zero_();
                continue;
            }

            double std = name.StartsWith("stem.", StringComparison.Ordinal)
                ? Math.Sqrt(2.0 / (parameter.shape[1] * parameter.shape[2] * parameter.shape[3])) // He init for the GELU convs
                : name.EndsWith("output.weight", StringComparison.Ordinal) ? residualStd : 0.02;
            // Drawn from the policy's own generator: nn.init.normal_ drew from torch's global one whatever generator
            // it was given (checked: two policies of one seed differed after other work used the global generator).
            using var values = randn(parameter.shape, dtype: parameter.dtype, generator: generator);
            parameter.copy_(values.mul_(std));
        }
    }

    /// <summary>Dropout, skipped outright when it would do nothing (the common case; saves a native call per use).</summary>
    private static Tensor Dropout(Tensor x, double p, bool training) => training && p > 0 ? F.dropout(x, p, training) : x;

    /// <summary>Pre-LN block: x + attention(LN(x)), then x + MLP(LN(x)).</summary>
    private sealed class DecoderBlock : nn.Module
    {
        private readonly LayerNorm attention_norm;
        private readonly CausalSelfAttention attention;
        private readonly LayerNorm mlp_norm;
        private readonly Linear mlp_input;
        private readonly Linear mlp_output;
        private readonly double dropout;

        public DecoderBlock(PolicyConfig config) : base(nameof(DecoderBlock))
        {
            attention_norm = nn.LayerNorm(config.DModel);
            attention = new CausalSelfAttention(config);
            mlp_norm = nn.LayerNorm(config.DModel);
            mlp_input = nn.Linear(config.DModel, 4 * config.DModel);
            mlp_output = nn.Linear(4 * config.DModel, config.DModel);
            dropout = config.Dropout;
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, KvCache? cache, int layer, Tensor? mask)
        {
            x = x + attention.Forward(attention_norm.forward(x), cache, layer, mask);
            var h = mlp_output.forward(F.gelu(mlp_input.forward(mlp_norm.forward(x))));
            return x + Dropout(h, dropout, training);
        }
    }

    /// <summary>
    /// Multi-head self-attention with scaled_dot_product_attention. Without a mask it is causal (training and
    /// unpadded prefill, both starting at position 0, where libtorch's top-left aligned causal mask is right); a
    /// one-token decode step attends to everything cached. With a cache, new keys and values are written at the
    /// cache's current length and attention runs over everything written so far.
    /// </summary>
    private sealed class CausalSelfAttention : nn.Module
    {
        private readonly Linear qkv;
        private readonly Linear output;
        private readonly int heads;
        private readonly int headDimension;
        private readonly double dropout;

        public CausalSelfAttention(PolicyConfig config) : base(nameof(CausalSelfAttention))
        {
            qkv = nn.Linear(config.DModel, 3 * config.DModel);
            output = nn.Linear(config.DModel, config.DModel);
            heads = config.Heads;
            headDimension = config.HeadDimension;
            dropout = config.Dropout;
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, KvCache? cache, int layer, Tensor? mask)
        {
            long batch = x.shape[0], length = x.shape[1];
            var qkvHeads = qkv.forward(x).view(batch, length, 3, heads, headDimension).permute(2, 0, 3, 1, 4).unbind(0);
            Tensor q = qkvHeads[0], k = qkvHeads[1], v = qkvHeads[2];
            if (cache is not null)
            {
                cache.Keys(layer, cache.Length, (int)length).copy_(k);
                cache.Values(layer, cache.Length, (int)length).copy_(v);
                k = cache.Keys(layer, 0, cache.Length + (int)length);
                v = cache.Values(layer, 0, cache.Length + (int)length);
            }

            bool causal = mask is null && length > 1;
            if (causal && cache is not null && cache.Length != 0)
            {
                throw new InvalidOperationException("A multi-token step after cached positions needs an explicit mask.");
            }

            var y = F.scaled_dot_product_attention(q, k, v, attn_mask: mask, p: training ? dropout : 0, is_casual: causal);
            y = y.transpose(1, 2).reshape(batch, length, heads * headDimension);
            return Dropout(output.forward(y), dropout, training);
        }
    }
}
