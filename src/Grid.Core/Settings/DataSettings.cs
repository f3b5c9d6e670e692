using System.Text.Json.Serialization;

namespace Grid.Core.Settings;

/// <summary>
/// Where a run's prompts come from (the run settings' <c>data</c> section). Left unset (<see cref="Train"/> null) the
/// run draws from the built-in generators exactly as before; set, SFT demonstrates the train file's reference answers,
/// GRPO-D draws its prompts from the train file and validation and evaluation read the eval file, or, without one, the
/// part of the train file that <see cref="EvalFraction"/> and <see cref="SplitSeed"/> set aside (docs/datasets.md).
/// </summary>
public sealed record DataSettings
{
    /// <summary>JSONL dataset to train on (Grid's or the R1-V layout); null trains on the built-in tasks.</summary>
    public string? Train { get; init; }

    /// <summary>JSONL dataset to validate and evaluate on; null splits <see cref="Train"/> instead.</summary>
    public string? Eval { get; init; }

    /// <summary>Answer kind of records that state none: auto, numeric, choice or text; null is auto.</summary>
    public string? AnswerKind { get; init; }

    /// <summary>Absolute tolerance of numeric answers of records that state none; null is 0.</summary>
    public double? Tolerance { get; init; }

    /// <summary>Share of the train file's examples (by id) held out for evaluation when there is no eval file.</summary>
    public double EvalFraction { get; init; } = 0.1;

    /// <summary>Seed of that split; independent of the run seed, so runs with different seeds share one split.</summary>
    public long SplitSeed { get; init; } = 1;

    /// <summary>The run trains on a dataset, not on the built-in tasks; not a setting of its own.</summary>
    [JsonIgnore]
    public bool IsSet => Train is not null;
}
