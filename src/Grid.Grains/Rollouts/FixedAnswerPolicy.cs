using System.Diagnostics;
using System.Text;
using Grid.Grains.Learner;
using Grid.Policy.Generation;
using Grid.Policy.Prompting;

namespace Grid.Grains.Rollouts;

/// <summary>
/// The zero-cost policy of <see cref="RolloutPolicy.FixedAnswer"/>, for benchmarking the grid itself: a canned
/// completion instead of sampling, and placeholder "weights" instead of a network, which the learner publishes
/// without training (<see cref="FixedAnswerLearner"/>). The placeholder still travels through the weight store like
/// real weights, but a silo that samples from a model refuses it by name. Given a <see cref="FixedAnswerCost"/>
/// (<c>grid bench --suite async</c>), generation and updates take simulated time, spent waiting rather than computing.
/// </summary>
/// <param name="cost">Simulated costs; null (the default) costs nothing.</param>
public sealed class FixedAnswerPolicy(FixedAnswerCost? cost = null) : ISiloPolicy
{
    private readonly Lock _engine = new();
    private long _engineBusyUntil; // Stopwatch timestamp: when this silo's simulated engine has served its queue

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

    /// <summary>
    /// Every request gets the canned completions: no thread hop, no batching, no weights; at once, or with a cost model
    /// after the silo's simulated engine has generated them: the engine serves
    /// one request at a time, in arrival order, each taking its completions' simulated tokens times
    /// <see cref="FixedAnswerCost.GenerationSecondsPerToken"/>; a silo thus generates at a fixed token rate, and more
    /// silos generate more in parallel. The wait holds no thread.
    /// </summary>
    public Task<IReadOnlyList<GenerationResult>>? AnswerAsync(RolloutRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var answered = Completions(request.Requests.Count);
        if (cost is not { GenerationSecondsPerToken: > 0 } c)
        {
            return Task.FromResult(answered);
        }

        double seconds = answered.Count * c.TokensPerCompletion * c.GenerationSecondsPerToken;
        long now = Stopwatch.GetTimestamp();
        long doneAt;
        lock (_engine)
        {
            doneAt = Math.Max(now, _engineBusyUntil) + (long)(seconds * Stopwatch.Frequency);
            _engineBusyUntil = doneAt;
        }

        return After(Stopwatch.GetElapsedTime(now, doneAt), answered);
    }

    public ILearnerModel CreateLearner(LearnerContext context) => new FixedAnswerLearner(context, cost);

    private static async Task<IReadOnlyList<GenerationResult>> After(TimeSpan wait, IReadOnlyList<GenerationResult> answered)
    {
        await Task.Delay(wait).ConfigureAwait(false);
        return answered;
    }
}

/// <summary>
/// BENCHMARKING ONLY: the simulated costs of a <see cref="FixedAnswerPolicy"/> silo, spent as waits (Task.Delay), not
/// CPU, so many silos fit on a few cores. A silo option (<c>grid bench --suite async</c> builds its in-process silos
/// with it), never a run setting: a training run cannot ask for it.
/// </summary>
/// <param name="GenerationSecondsPerToken">Seconds the silo's engine takes per generated token (one request at a time).</param>
/// <param name="TokensPerCompletion">Simulated tokens of one completion (the canned completion's real tokens are fewer).</param>
/// <param name="LearnerSecondsPerSample">Seconds the learner's update takes per trained completion.</param>
public sealed record FixedAnswerCost(double GenerationSecondsPerToken, double TokensPerCompletion, double LearnerSecondsPerSample)
{
    public FixedAnswerCost Validate()
    {
        if (!(GenerationSecondsPerToken >= 0 && TokensPerCompletion >= 0 && LearnerSecondsPerSample >= 0)
            || !double.IsFinite(GenerationSecondsPerToken * TokensPerCompletion * LearnerSecondsPerSample))
        {
            throw new ArgumentOutOfRangeException(nameof(GenerationSecondsPerToken), this, "Simulated costs are finite and >= 0.");
        }

        return this;
    }
}
