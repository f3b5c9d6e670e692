using System.Runtime.CompilerServices;
using Grid.Policy.Model;
using Grid.Tasks.Images;
using TorchSharp;
using TorchSharp.Modules;
using GenerationRequest = Grid.Policy.Generation.GenerationRequest;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Grid.Policy.Qwen;

/// <summary>
/// Qwen2-VL / Qwen2.5-VL for conditional generation, in float32: the vision tower ("visual"), the Qwen2 decoder
/// ("model") and, when the embeddings are untied, "lm_head"; state-dict keys equal the Hugging Face checkpoint's.
/// Images are encoded first (<see cref="EncodeImages"/>), their embeddings replace the image tokens' in order, and
/// the decoder runs at the 3-axis positions of <see cref="QwenRopeIndex"/>. Device-agnostic: inputs go where the
/// weights are.
/// </summary>
public sealed class QwenVLModel : PolicyModel
{
    private readonly QwenVisionTower visual;
    private readonly QwenTextDecoder model;
    private readonly Linear? lm_head;
    private readonly ConditionalWeakTable<RgbImage, QwenImageProcessorOutput> _processed = new();
    private QwenProcessor? _processor;
    private HashSet<int> _endTokens;

    /// <summary>Builds the network with PyTorch's default initialisation; load weights with <see cref="HuggingFaceCheckpoint"/>.</summary>
    public QwenVLModel(QwenVLConfig config) : base(nameof(QwenVLModel))
    {
        Config = config.Validate();
        visual = new QwenVisionTower(config.Vision, config.Family);
        model = new QwenTextDecoder(config);
        if (!config.TieWordEmbeddings)
        {
            lm_head = nn.Linear(config.HiddenSize, config.VocabSize, hasBias: false);
        }

        _endTokens = [.. config.EosTokenIds];
        RegisterComponents();
        KeepParametersOutOfDisposeScopes();
    }

    public QwenVLConfig Config { get; }

    /// <summary>
    /// The checkpoint's tokenizer, chat template and image processor: what turns a task's image and question into this
    /// model's input (<see cref="HuggingFaceCheckpoint.LoadPolicy"/> attaches it). Images are processed with its image
    /// processor wherever the model reads them.
    /// </summary>
    public QwenProcessor Processor => _processor ?? throw new InvalidOperationException(
        "This model has no processor attached: load it with HuggingFaceCheckpoint.LoadPolicy to read images and text.");

    /// <summary>Where the weights live; inputs are moved there.</summary>
    public override Device Device => model.EmbeddingWeight.device;

    public override string Shape => Config.ToString();

    public override int VocabSize => Config.VocabSize;

    /// <summary>The first end token: padding is never attended to nor scored, so any valid id serves.</summary>
    public override int PadId => Config.EosTokenIds[0];

    /// <summary>Image tokens are text tokens here: nothing sits in front of the prompt.</summary>
    public override int PrefixLength => 0;

    public override int MaxTextLength => Config.MaxPositionEmbeddings;

    /// <summary>config.json's and generation_config.json's eos_token_id (e.g. &lt;|im_end|&gt; and &lt;|endoftext|&gt;).</summary>
    public override bool IsEndOfCompletion(int token) => _endTokens.Contains(token);

    /// <summary>Attaches the checkpoint's processor and the end tokens generation stops at.</summary>
    internal void Attach(QwenProcessor processor, IEnumerable<int> endTokens)
    {
        _processor = processor;
        _endTokens = [.. Config.EosTokenIds, .. endTokens];
    }

    /// <summary>Stops gradients into the vision tower (model.freeze_vision): only the language model is trained.</summary>
    public void FreezeVision()
    {
        foreach (var parameter in visual.parameters())
        {
            parameter.requires_grad = false;
        }
    }

    /// <summary>
    /// Image embeddings [N / merge^2, hidden] for the processor's patches [N, C*T*P*P] of images with the given grids,
    /// all images' rows in order. <paramref name="trace"/> (optional) receives the tower's intermediate results.
    /// </summary>
    public Tensor EncodeImages(Tensor pixelValues, IReadOnlyList<(int T, int H, int W)> grids, QwenVisionTrace? trace = null)
    {
        ArgumentNullException.ThrowIfNull(pixelValues);
        using var scope = NewDisposeScope();
        return visual.Forward(pixelValues.to(Device), grids, trace).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Final-normed hidden states [B, L, H] of <paramref name="inputIds"/> [B, L] at <paramref name="positionIds"/>
    /// [3, B, L]. <paramref name="keyIsReal"/> [B, L] bool is false for (left) padding, or null when no row is padded
    /// on the left (right padding needs no mask: nothing real comes after it). <paramref name="imageEmbeds"/> replace
    /// the rows of image_token_id, in order through the batch.
    /// </summary>
    public Tensor HiddenStates(Tensor inputIds, Tensor positionIds, Tensor? keyIsReal = null, Tensor? imageEmbeds = null)
    {
        using var scope = NewDisposeScope();
        var embeddings = Embed(inputIds, imageEmbeds);
        var mask = keyIsReal is null ? null : PaddedCausalMask(keyIsReal.to(Device));
        return model.Forward(embeddings, CheckPositions(positionIds, inputIds), mask, cache: null).MoveToOuterDisposeScope();
    }

    /// <summary>The LM head: hidden [..., H] to logits [..., V] (the embedding matrix when tied).</summary>
    public override Tensor Logits(Tensor hidden) =>
        lm_head is null ? F.linear(hidden, model.EmbeddingWeight) : lm_head.forward(hidden);

    public override KvCache NewCache(int batchSize, int capacity) =>
        new(Config.NumHiddenLayers, Config.NumKeyValueHeads, Config.HeadDim, Config.MaxPositionEmbeddings, batchSize, capacity, Device);

    /// <summary>
    /// Prefills the left-padded prompts (image tokens expanded, as <see cref="QwenProcessor.EncodePrompt"/> makes them)
    /// at each row's own M-RoPE positions, as transformers places a padded batch, and records each row's rope delta
    /// for the decode steps.
    /// </summary>
    public override Tensor Prefill(IReadOnlyList<GenerationRequest> requests, int longest, KvCache cache)
    {
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentNullException.ThrowIfNull(cache);
        int batch = requests.Count;
        if (cache.Length != 0 || cache.BatchSize != batch || longest > cache.Capacity)
        {
            throw new InvalidOperationException(
                $"Prefill needs an empty cache of {batch} rows with room for {longest} positions; it holds {cache.Length} of " +
                $"{cache.Capacity} positions for {cache.BatchSize} rows.");
        }

        using var scope = NewDisposeScope();
        var rows = requests.Select(r => r.PromptTokens).ToArray();
        var (ids, positions, isReal, deltas) = Layout(rows, requests.Select(r => (RgbImage?)r.Image).ToArray(), longest, leftPadded: true);
        var embeddings = Embed(ids, ImageEmbeddings(rows, requests.Select(r => (RgbImage?)r.Image).ToArray()));
        Tensor? mask = null;
        if (isReal is not null)
        {
            cache.KeyIsReal(longest).copy_(isReal.view(batch, 1, 1, longest));
            cache.HasPadding = true;
            mask = PaddedCausalMask(isReal);
        }

        var hidden = model.Forward(embeddings, positions, mask, cache);
        cache.Length = longest;
        cache.PositionOffsets = deltas;
        return Logits(hidden.narrow(1, longest - 1, 1).squeeze(1)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Feeds one token per row at its text position + its rope delta on all three axes: where transformers' generate
    /// puts it (cache position + delta) for the row alone.
    /// </summary>
    public override Tensor DecodeStep(Tensor tokens, Tensor textPositions, KvCache cache)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (cache.Length == 0 || cache.Length >= cache.Capacity)
        {
            throw new InvalidOperationException(
                $"A decode step needs a prefilled cache with room left; it holds {cache.Length} of {cache.Capacity} positions.");
        }

        using var scope = NewDisposeScope();
        long batch = cache.BatchSize;
        var ids = tokens.to(Device).view(batch, 1);
        var positions = textPositions.to(Device).view(batch).add(tensor(cache.PositionOffsets, device: Device))
            .view(1, batch, 1).expand(3, batch, 1);
        var mask = cache.HasPadding ? cache.KeyIsReal(cache.Length + 1) : null;
        var hidden = model.Forward(model.Embed(ids), positions, mask, cache);
        cache.Length++;
        return Logits(hidden.squeeze(1)).MoveToOuterDisposeScope();
    }

    /// <summary>Right-padded rows at their own M-RoPE positions; a real token never attends to a later pad, so no mask.</summary>
    public override Tensor TextHiddenStates(IReadOnlyList<RgbImage?> images, Tensor tokens, int[] lengths)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(lengths);
        using var scope = NewDisposeScope();
        int batch = (int)tokens.shape[0], width = (int)tokens.shape[1];
        var flat = tokens.cpu().to_type(ScalarType.Int64).data<long>().ToArray();
        var rows = new int[batch][];
        for (int b = 0; b < batch; b++)
        {
            rows[b] = new int[lengths[b]];
            for (int j = 0; j < lengths[b]; j++)
            {
                rows[b][j] = (int)flat[(b * width) + j];
            }
        }

        var (ids, positions, _, _) = Layout(rows, images, width, leftPadded: false);
        var embeddings = Embed(ids, ImageEmbeddings(rows, images));
        return model.Forward(embeddings, positions, mask: null, cache: null).MoveToOuterDisposeScope();
    }

    private static (int T, int H, int W) GridOf(QwenImageProcessorOutput image) => (image.GridT, image.GridH, image.GridW);

    /// <summary>The processor's output for <paramref name="image"/>, computed once per image object.</summary>
    private QwenImageProcessorOutput Processed(RgbImage image) =>
        _processed.GetValue(image, key => Processor.ImageProcessor.Process(key));

    /// <summary>
    /// Ids [B, width], positions [3, B, width] and, when a row is left-padded, which slots are real; each row's
    /// positions and rope delta are what transformers computes for the row alone (padding slots sit at position 1).
    /// </summary>
    private (Tensor Ids, Tensor Positions, Tensor? IsReal, long[] Deltas) Layout(int[][] rows, IReadOnlyList<RgbImage?> images,
        int width, bool leftPadded)
    {
        int batch = rows.Length;
        var ids = new long[batch * width];
        var positions = new long[3 * batch * width];
        var isReal = new bool[batch * width];
        var deltas = new long[batch];
        bool padded = false;
        Array.Fill(ids, PadId);
        Array.Fill(positions, 1);
        for (int b = 0; b < batch; b++)
        {
            int[] row = rows[b];
            int offset = leftPadded ? width - row.Length : 0;
            padded |= row.Length < width;
            var grids = row.Contains(Config.ImageTokenId) && images[b] is { } image
                ? new[] { GridOf(Processed(image)) }
                : [];
            var (rowPositions, delta) = QwenRopeIndex.Compute(Config, row, grids);
            deltas[b] = delta;
            for (int j = 0; j < row.Length; j++)
            {
                ids[(b * width) + offset + j] = row[j];
                isReal[(b * width) + offset + j] = true;
                for (int axis = 0; axis < 3; axis++)
                {
                    positions[(((axis * batch) + b) * width) + offset + j] = rowPositions[axis][j];
                }
            }
        }

        return (tensor(ids, [batch, width], device: Device), tensor(positions, [3, batch, width], device: Device),
            leftPadded && padded ? tensor(isReal, [batch, width], device: Device) : null, deltas);
    }

    /// <summary>
    /// The image embeddings of every row whose prompt holds image tokens, in row order: each distinct image goes through
    /// the vision tower once (a group's rollouts share theirs) and is repeated for the rows that read it.
    /// </summary>
    private Tensor? ImageEmbeddings(int[][] rows, IReadOnlyList<RgbImage?> images)
    {
        var distinct = new List<RgbImage>();
        var slot = new Dictionary<RgbImage, int>(ReferenceEqualityComparer.Instance);
        var order = new List<int>();
        for (int b = 0; b < rows.Length; b++)
        {
            if (!rows[b].Contains(Config.ImageTokenId))
            {
                continue;
            }

            var image = images[b] ?? throw new ArgumentException($"Row {b} holds image tokens but has no image.", nameof(images));
            if (!slot.TryGetValue(image, out int index))
            {
                index = distinct.Count;
                slot[image] = index;
                distinct.Add(image);
            }

            order.Add(index);
        }

        if (distinct.Count == 0)
        {
            return null;
        }

        var outputs = distinct.Select(Processed).ToArray();
        var pixels = cat(outputs.Select(o => tensor(o.PixelValues, [o.Patches, o.PatchValues])).ToArray(), 0);
        var embeddings = EncodeImages(pixels, outputs.Select(GridOf).ToArray());
        var counts = outputs.Select(o => (long)(o.Patches / Config.Vision.MergeUnit)).ToArray();
        var perImage = embeddings.split(counts, 0);
        return order.Count == distinct.Count && order.SequenceEqual(Enumerable.Range(0, distinct.Count))
            ? embeddings
            : cat(order.Select(i => perImage[i]).ToArray(), 0);
    }

    /// <summary>
    /// Detaches every parameter from the caller's dispose scopes: a model built (or moved to a device) inside one
    /// must outlive it. Checked: without this, weights created under a test's scope were disposed with it.
    /// </summary>
    internal void KeepParametersOutOfDisposeScopes()
    {
        foreach (var parameter in parameters())
        {
            parameter.DetachFromDisposeScope();
        }
    }

    /// <summary>Token embeddings [B, L, H] with the image embeddings scattered over the image tokens in order.</summary>
    private Tensor Embed(Tensor inputIds, Tensor? imageEmbeds)
    {
        var ids = inputIds.to(Device);
        var embeddings = model.Embed(ids);
        var isImage = ids.eq(Config.ImageTokenId).flatten();
        long imageTokens = isImage.sum().item<long>();
        long features = imageEmbeds is null ? 0 : imageEmbeds.shape[0];
        if (imageTokens != features)
        {
            throw new ArgumentException(
                $"Image features and image tokens do not match: {imageTokens} image tokens (id {Config.ImageTokenId}), {features} image embeddings.");
        }

        if (imageEmbeds is null)
        {
            return embeddings;
        }

        var shape = embeddings.shape;
        var rows = isImage.nonzero().squeeze(1);
        return embeddings.view(-1, shape[2]).index_copy(0, rows, imageEmbeds.to(Device).to(embeddings.dtype)).view(shape);
    }

    private Tensor CheckPositions(Tensor positionIds, Tensor inputIds)
    {
        if (positionIds.dim() != 3 || positionIds.shape[0] != 3 || positionIds.shape[1] != inputIds.shape[0]
            || positionIds.shape[2] != inputIds.shape[1])
        {
            throw new ArgumentException(
                $"Position ids [{string.Join(", ", positionIds.shape)}] must be [3, {inputIds.shape[0]}, {inputIds.shape[1]}] for input ids [{string.Join(", ", inputIds.shape)}].");
        }

        return positionIds.to(Device);
    }

    /// <summary>
    /// [B, 1, L, L]: causal and only real keys. Every query also sees itself, so a padding row never attends to nothing
    /// (a NaN there would reach real rows through their masked-out keys' values).
    /// </summary>
    private Tensor PaddedCausalMask(Tensor keyIsReal)
    {
        long batch = keyIsReal.shape[0], length = keyIsReal.shape[1];
        var causal = ones(length, length, dtype: ScalarType.Bool, device: Device).tril();
        var self = eye(length, dtype: ScalarType.Bool, device: Device);
        return causal.view(1, 1, length, length).logical_and(keyIsReal.view(batch, 1, 1, length)).logical_or(self);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _processor?.Dispose();
        }

        base.Dispose(disposing);
    }
}
