using System.Text.Json;
using System.Text.Json.Serialization;

namespace Grid.Learning.Tests.Reference;

/// <summary>The cases of grpo_vectors.json, computed with PyTorch by shared/reference/make_vectors.py.</summary>
public sealed record ReferenceVectors(
    int Seed,
    LossCase[] LossCases,
    BetaScheduleCase[] BetaSchedule,
    AdaptiveKlCase[] AdaptiveKl)
{
    private static readonly Lazy<ReferenceVectors> s_loaded = new(Load);

    public static ReferenceVectors Instance => s_loaded.Value;

    private static ReferenceVectors Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Reference", "grpo_vectors.json");
        var options = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
        return JsonSerializer.Deserialize<ReferenceVectors>(File.ReadAllText(path), options)
            ?? throw new InvalidDataException($"{path} holds no reference vectors.");
    }
}

public sealed record LossCase(
    int GroupSize,
    double[] Rewards,
    string AdvantageScale,
    double[][] Logp,
    double[][] OldLogp,
    double[][] RefLogp,
    double[][] Mask,
    double Beta,
    double EpsLow,
    double EpsHigh,
    string LossType,
    int MaxCompletionLength,
    LossExpectation Expected);

public sealed record LossExpectation(
    double[] Advantages,
    double[][] PerTokenLoss,
    double Loss,
    double[][] GradLogp,
    double ClipFraction,
    double MeanKl);

public sealed record BetaScheduleCase(
    long Step,
    long TotalSteps,
    double WarmupFraction,
    double BetaMin,
    double BetaMax,
    double ExpectedBeta);

public sealed record AdaptiveKlCase(
    double Beta,
    double ObservedKl,
    double TargetKl,
    [property: JsonPropertyName("n_steps")] int Samples,
    int Horizon,
    double ExpectedBeta);
