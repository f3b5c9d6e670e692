using TorchSharp;
using TorchSharp.Modules;
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
public sealed class QwenVLModel : nn.Module
{
    private readonly QwenVisionTower visual;
    private readonly QwenTextDecoder model;
    private readonly Linear? lm_head;

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

        RegisterComponents();
        KeepParametersOutOfDisposeScopes();
    }

    public QwenVLConfig Config { get; }

    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>Where the weights live; inputs are moved there.</summary>
    public Device Device => model.EmbeddingWeight.device;

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
    public Tensor Logits(Tensor hidden) =>
        lm_head is null ? F.linear(hidden, model.EmbeddingWeight) : lm_head.forward(hidden);

    /// <summary>An empty KV cache for <paramref name="batchSize"/> rows of up to <paramref name="capacity"/> positions.</summary>
    public QwenKvCache NewCache(int batchSize, int capacity) => new(Config, batchSize, capacity, Device);

    /// <summary>
    /// Fills an empty cache with the (left-padded) prompts and returns the next-token logits of their last position
    /// [B, V]. <paramref name="ropeDeltas"/> are each row's delta from <see cref="QwenRopeIndex"/>, used by the decode steps.
    /// </summary>
    public Tensor Prefill(Tensor inputIds, Tensor positionIds, Tensor? keyIsReal, Tensor? imageEmbeds,
        IReadOnlyList<long> ropeDeltas, QwenKvCache cache)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(ropeDeltas);
        long batch = inputIds.shape[0], length = inputIds.shape[1];
        if (cache.Length != 0 || cache.BatchSize != batch || length > cache.Capacity || ropeDeltas.Count != batch)
        {
            throw new InvalidOperationException(
                $"Prefill needs an empty cache of {batch} rows with room for {length} positions and one rope delta per row; " +
                $"the cache holds {cache.Length} of {cache.Capacity} positions for {cache.BatchSize} rows, with {ropeDeltas.Count} deltas.");
        }

        using var scope = NewDisposeScope();
        var embeddings = Embed(inputIds, imageEmbeds);
        Tensor? mask = null;
        if (keyIsReal is not null)
        {
            var real = keyIsReal.to(Device);
            cache.KeyIsReal((int)length).copy_(real.view(batch, 1, 1, length));
            cache.HasPadding = true;
            mask = PaddedCausalMask(real);
        }

        var hidden = model.Forward(embeddings, CheckPositions(positionIds, inputIds), mask, cache);
        cache.Length = (int)length;
        for (int b = 0; b < batch; b++)
        {
            cache.RopeDeltas[b] = ropeDeltas[b];
        }

        return Logits(hidden.narrow(1, length - 1, 1).squeeze(1)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Feeds one token per row ([B]) after what the cache holds, at position cache length + the row's rope delta on all
    /// three axes (transformers' generate), and returns the next-token logits [B, V].
    /// </summary>
    public Tensor DecodeStep(Tensor tokens, QwenKvCache cache)
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
        var positions = tensor(cache.RopeDeltas, device: Device).add(cache.Length).view(1, batch, 1).expand(3, batch, 1);
        var mask = cache.HasPadding ? cache.KeyIsReal(cache.Length + 1) : null;
        var hidden = model.Forward(model.Embed(ids), positions, mask, cache);
        cache.Length++;
        return Logits(hidden.squeeze(1)).MoveToOuterDisposeScope();
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
}
