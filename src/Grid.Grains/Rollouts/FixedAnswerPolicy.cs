using System.Text;
using Grid.Grains.Learner;
using Grid.Policy.Generation;
using Grid.Policy.Prompting;

namespace Grid.Grains.Rollouts;

/// <summary>
/// The zero-cost policy of <see cref="RolloutPolicy.FixedAnswer"/>, for benchmarking the grid itself: a canned
/// completion instead of sampling, and placeholder "weights" instead of a network, which the learner publishes
/// without training (<see cref="FixedAnswerLearner"/>). The placeholder still travels through the weight store like
/// real weights, but a silo that samples from a model refuses it by name.
/// </summary>
public sealed class FixedAnswerPolicy : ISiloPolicy
{
    /// <summary>The completion every rollout gets: well formatted, so the verifier scores it as it would any other.</summary>
    public const string Completion = "<think>fixed</think><answer>1</answer>";

    private static readonly byte[] PlaceholderHeader = Encoding.ASCII.GetBytes("grid-fixed-answer-placeholder-weights\n");

    private static readonly int[] Tokens = PromptFormat.EncodeCompletion(Completion);

    /// <summary><paramref name="count"/> copies of the canned completion (log-probs 0: it is "certain").</summary>
    public static IReadOnlyList<GenerationResult> Completions(int count) =>
        Enumerable.Range(0, count).Select(_ => new GenerationResult(Tokens, new float[Tokens.Length], EndedWithEos: true)).ToArray();

    /// <summary>What the learner publishes as version <paramref name="version"/> of a fixed-answer run.</summary>
    public static byte[] PlaceholderWeights(string runId, long version) =>
        [.. PlaceholderHeader, .. Encoding.UTF8.GetBytes($"{runId} v{version}\n")];

    public static bool IsPlaceholder(ReadOnlySpan<byte> weights) => weights.StartsWith(PlaceholderHeader);

    /// <summary>Every request gets the canned completions at once: no thread hop, no batching, no weights.</summary>
    public IReadOnlyList<GenerationResult>? Answer(RolloutRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Completions(request.Requests.Count);
    }

    public ILearnerModel CreateLearner(LearnerContext context) => new FixedAnswerLearner(context);
}
