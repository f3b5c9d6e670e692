namespace Grid.Policy.Generation;

/// <summary>
/// How to sample. Tokens are drawn from softmax(logits / Temperature) restricted to the top-p nucleus (the smallest
/// set of most likely tokens whose probability reaches TopP); Greedy takes the most likely token instead.
/// Every value is checked on construction and on <c>with</c>.
/// </summary>
public sealed record GenerationSettings(int MaxNewTokens, double Temperature = 1.0, double TopP = 1.0, bool Greedy = false)
{
    public int MaxNewTokens { get; init => field = CheckMaxNewTokens(value); } = CheckMaxNewTokens(MaxNewTokens);

    public double Temperature { get; init => field = CheckTemperature(value); } = CheckTemperature(Temperature);

    public double TopP { get; init => field = CheckTopP(value); } = CheckTopP(TopP);

    /// <summary>
    /// Sampling from the policy's own distribution (temperature 1, top-p 1): the LogProbs of such completions are
    /// exactly what SequenceLogProbs computes for them (the old log-probs of the importance ratio).
    /// </summary>
    public static GenerationSettings PolicyDistribution(int maxNewTokens) => new(maxNewTokens);

    private static int CheckMaxNewTokens(int value) => value >= 1
        ? value
        : throw new ArgumentOutOfRangeException(nameof(MaxNewTokens), value, "MaxNewTokens must be at least 1.");

    private static double CheckTemperature(double value) => value > 0 && double.IsFinite(value)
        ? value
        : throw new ArgumentOutOfRangeException(nameof(Temperature), value,
            "Temperature must be a finite number above 0 (use Greedy for argmax decoding).");

    private static double CheckTopP(double value) => value is > 0 and <= 1
        ? value
        : throw new ArgumentOutOfRangeException(nameof(TopP), value, "TopP must be in (0, 1]; 1 keeps every token.");
}
