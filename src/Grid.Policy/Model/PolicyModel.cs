using Grid.Policy.Generation;
using Grid.Tasks.Images;
using TorchSharp;
using static TorchSharp.torch;

namespace Grid.Policy.Model;

/// <summary>
/// What generation (<see cref="ContinuousBatch"/>) and scoring (<see cref="Scoring.SequenceLogProbs"/>) need from a
/// policy network, whatever its architecture: Grid's own <see cref="VisionLanguagePolicy"/> or a Hugging Face
/// Qwen2-VL / Qwen2.5-VL checkpoint. A row is [what the model puts in front of the text][prompt tokens][completion
/// tokens]; text positions count from 0 at the row's first prompt token, and padding never changes what a row computes.
/// </summary>
public abstract class PolicyModel : nn.Module
{
    protected PolicyModel(string name) : base(name)
    {
    }

    /// <summary>Where the weights live; inputs are created there.</summary>
    public abstract Device Device { get; }

    /// <summary>The network's shape in one line (its config), for messages about weights that do not fit it.</summary>
    public abstract string Shape { get; }

    /// <summary>Width of the next-token distribution (the LM head's rows).</summary>
    public abstract int VocabSize { get; }

    /// <summary>The id that fills unused token slots: never attended to, never scored.</summary>
    public abstract int PadId { get; }

    /// <summary>Cache positions in front of a row's text: the small model's image patches, 0 where images are text tokens.</summary>
    public abstract int PrefixLength { get; }

    /// <summary>Text tokens (prompt + completion) one row can hold.</summary>
    public abstract int MaxTextLength { get; }

    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>
    /// The parameters an optimizer updates: all of them, unless some are frozen (requires_grad false), as a Qwen2-VL
    /// policy's vision tower is with model.freeze_vision.
    /// </summary>
    public IReadOnlyList<TorchSharp.Modules.Parameter> TrainableParameters() => parameters().Where(p => p.requires_grad).ToArray();

    /// <summary>True for a token that ends a completion: it is scored, nothing after it is.</summary>
    public abstract bool IsEndOfCompletion(int token);

    /// <summary>An empty KV cache for <paramref name="batchSize"/> rows of up to <paramref name="capacity"/> positions.</summary>
    public abstract KvCache NewCache(int batchSize, int capacity);

    /// <summary>
    /// Fills an empty cache with the requests' images and prompts, left-padded to <paramref name="longest"/> tokens, and
    /// returns the next-token logits of each row's last position [B, V].
    /// </summary>
    public abstract Tensor Prefill(IReadOnlyList<GenerationRequest> requests, int longest, KvCache cache);

    /// <summary>
    /// Feeds one token per row ([B] tokens, each at its [B] text position) after what the cache holds and returns the
    /// next-token logits [B, V].
    /// </summary>
    public abstract Tensor DecodeStep(Tensor tokens, Tensor textPositions, KvCache cache);

    /// <summary>
    /// The final-normed hidden states [B, T, D] of right-padded text [B, T] (prompt then completion; row b holds
    /// <paramref name="lengths"/>[b] real tokens) read after each row's image (null: none, where the policy allows it);
    /// <see cref="Logits"/> maps them to logits.
    /// </summary>
    public abstract Tensor TextHiddenStates(IReadOnlyList<RgbImage?> images, Tensor tokens, int[] lengths);

    /// <summary>The LM head: hidden states [..., D] to logits [..., V].</summary>
    public abstract Tensor Logits(Tensor hidden);
}
