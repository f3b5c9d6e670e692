using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Grid.Policy.Qwen;

/// <summary>
/// The vision tower of Qwen2-VL and Qwen2.5-VL (the checkpoint's "visual.*"): a Conv3d patch embedding, pre-norm
/// blocks with 2-D rotary attention that never crosses an image (Qwen2.5-VL: nor a window, except in its fullatt
/// blocks), and the merger that concatenates each spatial_merge_size^2 patches into one language-model token.
/// Patches arrive as Qwen2VLImageProcessor flattens them: each group of merge^2 consecutive rows is one merged token.
/// </summary>
public sealed class QwenVisionTower : nn.Module
{
    private readonly PatchEmbed patch_embed;
    private readonly ModuleList<VisionBlock> blocks;
    private readonly PatchMerger merger;
    private readonly QwenVisionConfig _config;
    private readonly bool _windowed;
    private readonly float[] _inverseFrequencies;

    public QwenVisionTower(QwenVisionConfig config, QwenVLFamily family) : base(nameof(QwenVisionTower))
    {
        _config = config;
        _windowed = family == QwenVLFamily.Qwen25VL;
        patch_embed = new PatchEmbed(config);
        blocks = nn.ModuleList(Enumerable.Range(0, config.Depth).Select(_ => new VisionBlock(config, family)).ToArray());
        merger = new PatchMerger(config, family);
        // VisionRotaryEmbedding(head_dim / 2): one frequency per pair of the quarter head that rotates with h (or w).
        int dim = config.HeadDim / 2;
        _inverseFrequencies = Enumerable.Range(0, dim / 2)
            .Select(i => (float)(1.0 / Math.Pow(10000.0, (float)(2 * i) / dim))).ToArray();
        RegisterComponents();
    }

    /// <summary>
    /// Image embeddings [N / merge^2, out_hidden_size] for patches [N, C*T*P*P] of the images with the given grids (in
    /// patches), in the original order. <paramref name="trace"/>, when given, receives the patch embedding and every
    /// block's output (in the order the blocks hold them: window-permuted for Qwen2.5-VL) and the window index.
    /// </summary>
    public Tensor Forward(Tensor pixelValues, IReadOnlyList<(int T, int H, int W)> grids, QwenVisionTrace? trace = null)
    {
        ArgumentNullException.ThrowIfNull(pixelValues);
        ArgumentNullException.ThrowIfNull(grids);
        long patches = CheckGrids(pixelValues, grids);
        using var scope = NewDisposeScope();
        var device = pixelValues.device;
        var x = patch_embed.forward(pixelValues.to(ScalarType.Float32));
        trace?.Record(x, null);
        var rotary = RotaryAngles(grids, device);
        var fullSegments = ImageSegments(grids);
        var windowSegments = fullSegments;
        Tensor? windowIndex = null;
        int unit = _config.MergeUnit;
        if (_windowed)
        {
            var (index, segments) = WindowIndex(grids);
            windowSegments = segments;
            windowIndex = tensor(index, device: device);
            trace?.RecordWindowIndex(index);
            x = x.view(patches / unit, unit, -1).index_select(0, windowIndex).view(patches, -1);
            rotary = rotary.view(patches / unit, unit, -1).index_select(0, windowIndex).view(patches, -1);
        }

        var angles = cat([rotary, rotary], dim: -1);
        var (cos, sin) = (angles.cos(), angles.sin());
        for (int i = 0; i < blocks.Count; i++)
        {
            bool full = !_windowed || _config.FullAttentionBlocks.Contains(i);
            x = blocks[i].Forward(x, full ? fullSegments : windowSegments, cos, sin);
            trace?.Record(x, i);
        }

        x = merger.forward(x);
        if (windowIndex is not null)
        {
            x = x.index_select(0, windowIndex.argsort());
        }

        return x.MoveToOuterDisposeScope();
    }

    private long CheckGrids(Tensor pixelValues, IReadOnlyList<(int T, int H, int W)> grids)
    {
        long patches = 0;
        foreach (var (t, h, w) in grids)
        {
            if (t <= 0 || h <= 0 || w <= 0 || h % _config.SpatialMergeSize != 0 || w % _config.SpatialMergeSize != 0)
            {
                throw new ArgumentException(
                    $"Image grid ({t}, {h}, {w}) must be positive with h and w multiples of spatial_merge_size {_config.SpatialMergeSize}.");
            }

            patches += (long)t * h * w;
        }

        if (pixelValues.dim() != 2 || pixelValues.shape[0] != patches || pixelValues.shape[1] != _config.PatchDimension)
        {
            throw new ArgumentException(
                $"pixel values [{string.Join(", ", pixelValues.shape)}] do not match the grids: expected [{patches}, {_config.PatchDimension}].");
        }

        return patches;
    }

    /// <summary>Each patch's rotary angles [N, head_dim / 2]: its row's angles, then its column's (rot_pos_emb).</summary>
    private Tensor RotaryAngles(IReadOnlyList<(int T, int H, int W)> grids, Device device)
    {
        int m = _config.SpatialMergeSize;
        var positions = new List<float>();
        foreach (var (t, h, w) in grids)
        {
            for (int frame = 0; frame < t; frame++)
            {
                for (int blockRow = 0; blockRow < h / m; blockRow++)
                {
                    for (int blockColumn = 0; blockColumn < w / m; blockColumn++)
                    {
                        for (int i = 0; i < m; i++)
                        {
                            for (int j = 0; j < m; j++)
                            {
                                positions.Add((blockRow * m) + i);
                                positions.Add((blockColumn * m) + j);
                            }
                        }
                    }
                }
            }
        }

        var rowColumn = tensor(positions.ToArray(), device: device).view(-1, 2, 1);
        return (rowColumn * tensor(_inverseFrequencies, device: device)).flatten(1);
    }

    /// <summary>Attention segments [start, end) of whole images (cu_seqlens: each frame of each image).</summary>
    private static List<(long Start, long End)> ImageSegments(IReadOnlyList<(int T, int H, int W)> grids)
    {
        var segments = new List<(long, long)>();
        long start = 0;
        foreach (var (t, h, w) in grids)
        {
            for (int frame = 0; frame < t; frame++)
            {
                segments.Add((start, start + ((long)h * w)));
                start += (long)h * w;
            }
        }

        return segments;
    }

    /// <summary>
    /// Qwen2.5-VL's get_window_index: merged tokens reordered window by window (windows of side window_size / merge /
    /// patch merged tokens, row-major, the last row and column of windows cut short), and the windows' patch segments.
    /// </summary>
    private (long[] Index, List<(long Start, long End)> Segments) WindowIndex(IReadOnlyList<(int T, int H, int W)> grids)
    {
        int side = _config.WindowSideInMergedTokens, m = _config.SpatialMergeSize, unit = _config.MergeUnit;
        var index = new List<long>();
        var segments = new List<(long, long)>();
        long offset = 0, patchStart = 0;
        foreach (var (t, h, w) in grids)
        {
            int rows = h / m, columns = w / m;
            for (int frame = 0; frame < t; frame++)
            {
                for (int windowRow = 0; windowRow < rows; windowRow += side)
                {
                    for (int windowColumn = 0; windowColumn < columns; windowColumn += side)
                    {
                        int count = 0;
                        for (int r = windowRow; r < Math.Min(rows, windowRow + side); r++)
                        {
                            for (int c = windowColumn; c < Math.Min(columns, windowColumn + side); c++)
                            {
                                index.Add(offset + ((long)frame * rows * columns) + ((long)r * columns) + c);
                                count++;
                            }
                        }

                        segments.Add((patchStart, patchStart + ((long)count * unit)));
                        patchStart += (long)count * unit;
                    }
                }
            }

            offset += (long)t * rows * columns;
        }

        return (index.ToArray(), segments);
    }

    private static Tensor RotateHalf(Tensor x)
    {
        long half = x.shape[^1] / 2;
        return cat([-x.narrow(-1, half, half), x.narrow(-1, 0, half)], dim: -1);
    }

    private static Tensor Activation(string name, Tensor x) => name switch
    {
        "quick_gelu" => x * (1.702 * x).sigmoid(),
        "gelu" => F.gelu(x),
        "silu" => F.silu(x),
        _ => throw new NotSupportedException($"Vision activation '{name}' is not supported."),
    };

    /// <summary>A Conv3d whose stride is its kernel: one matrix product over each flattened patch.</summary>
    private sealed class PatchEmbed : nn.Module<Tensor, Tensor>
    {
        private readonly Conv3d proj;
        private readonly int _width;

        public PatchEmbed(QwenVisionConfig config) : base(nameof(PatchEmbed))
        {
            proj = nn.Conv3d(config.InChannels, config.Width,
                (config.TemporalPatchSize, config.PatchSize, config.PatchSize),
                stride: (config.TemporalPatchSize, config.PatchSize, config.PatchSize), bias: false);
            _width = config.Width;
            RegisterComponents();
        }

        public override Tensor forward(Tensor patches) => F.linear(patches, proj.weight!.view(_width, -1));
    }

    private sealed class VisionBlock : nn.Module
    {
        private readonly nn.Module<Tensor, Tensor> norm1;
        private readonly nn.Module<Tensor, Tensor> norm2;
        private readonly VisionAttention attn;
        private readonly nn.Module<Tensor, Tensor> mlp;

        public VisionBlock(QwenVisionConfig config, QwenVLFamily family) : base(nameof(VisionBlock))
        {
            if (family == QwenVLFamily.Qwen2VL)
            {
                norm1 = nn.LayerNorm(config.Width, eps: 1e-6);
                norm2 = nn.LayerNorm(config.Width, eps: 1e-6);
                mlp = new VisionMlp(config);
            }
            else
            {
                norm1 = new QwenRmsNorm(config.Width, 1e-6);
                norm2 = new QwenRmsNorm(config.Width, 1e-6);
                mlp = new GatedVisionMlp(config);
            }

            attn = new VisionAttention(config);
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, List<(long Start, long End)> segments, Tensor cos, Tensor sin)
        {
            x = x + attn.Forward(norm1.forward(x), segments, cos, sin);
            return x + mlp.forward(norm2.forward(x));
        }
    }

    /// <summary>Non-causal attention within each segment (an image, or a window), rotary on q and k.</summary>
    private sealed class VisionAttention : nn.Module
    {
        private readonly Linear qkv;
        private readonly Linear proj;
        private readonly int _heads;
        private readonly int _headDim;

        public VisionAttention(QwenVisionConfig config) : base(nameof(VisionAttention))
        {
            qkv = nn.Linear(config.Width, 3 * config.Width);
            proj = nn.Linear(config.Width, config.Width);
            _heads = config.NumHeads;
            _headDim = config.HeadDim;
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, List<(long Start, long End)> segments, Tensor cos, Tensor sin)
        {
            long length = x.shape[0];
            var parts = qkv.forward(x).view(length, 3, _heads, _headDim).permute(1, 0, 2, 3).unbind(0);
            Tensor q = parts[0], k = parts[1], v = parts[2];
            var (c, s) = (cos.unsqueeze(1), sin.unsqueeze(1));
            q = (q * c) + (RotateHalf(q) * s);
            k = (k * c) + (RotateHalf(k) * s);
            q = q.transpose(0, 1).unsqueeze(0);
            k = k.transpose(0, 1).unsqueeze(0);
            v = v.transpose(0, 1).unsqueeze(0);
            var outputs = new List<Tensor>();
            foreach (var (start, end) in segments)
            {
                if (end > start)
                {
                    outputs.Add(F.scaled_dot_product_attention(
                        q.narrow(2, start, end - start), k.narrow(2, start, end - start), v.narrow(2, start, end - start)));
                }
            }

            var y = (outputs.Count == 1 ? outputs[0] : cat(outputs, dim: 2)).squeeze(0).transpose(0, 1).reshape(length, -1);
            return proj.forward(y);
        }
    }

    /// <summary>Qwen2-VL: fc2(act(fc1(x))).</summary>
    private sealed class VisionMlp : nn.Module<Tensor, Tensor>
    {
        private readonly Linear fc1;
        private readonly Linear fc2;
        private readonly string _act;

        public VisionMlp(QwenVisionConfig config) : base(nameof(VisionMlp))
        {
            fc1 = nn.Linear(config.Width, config.MlpHiddenSize);
            fc2 = nn.Linear(config.MlpHiddenSize, config.Width);
            _act = config.HiddenAct;
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => fc2.forward(Activation(_act, fc1.forward(x)));
    }

    /// <summary>Qwen2.5-VL: down(act(gate(x)) * up(x)), with biases.</summary>
    private sealed class GatedVisionMlp : nn.Module<Tensor, Tensor>
    {
        private readonly Linear gate_proj;
        private readonly Linear up_proj;
        private readonly Linear down_proj;
        private readonly string _act;

        public GatedVisionMlp(QwenVisionConfig config) : base(nameof(GatedVisionMlp))
        {
            gate_proj = nn.Linear(config.Width, config.MlpHiddenSize);
            up_proj = nn.Linear(config.Width, config.MlpHiddenSize);
            down_proj = nn.Linear(config.MlpHiddenSize, config.Width);
            _act = config.HiddenAct;
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) =>
            down_proj.forward(Activation(_act, gate_proj.forward(x)) * up_proj.forward(x));
    }

    /// <summary>Norm each patch, concatenate each merge^2 consecutive patches, then Linear-GELU-Linear.</summary>
    private sealed class PatchMerger : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> ln_q;
        private readonly Sequential mlp;
        private readonly int _mergedWidth;

        public PatchMerger(QwenVisionConfig config, QwenVLFamily family) : base(nameof(PatchMerger))
        {
            _mergedWidth = config.Width * config.MergeUnit;
            ln_q = family == QwenVLFamily.Qwen2VL ? nn.LayerNorm(config.Width, eps: 1e-6) : new QwenRmsNorm(config.Width, 1e-6);
            mlp = nn.Sequential(
                ("0", nn.Linear(_mergedWidth, _mergedWidth)),
                ("1", nn.GELU()),
                ("2", nn.Linear(_mergedWidth, config.OutHiddenSize)));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => mlp.forward(ln_q.forward(x).view(-1, _mergedWidth));
    }
}
