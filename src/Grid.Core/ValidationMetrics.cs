
namespace Grid.Core;

/// <summary>
/// One greedy evaluation of a policy version on the validation prompts of every task (<c>validation</c> and
/// <c>validation_start</c> in a line of <c>metrics.jsonl</c>); accuracy and format rate by task name.
/// </summary>
public sealed record ValidationMetrics
{
    /// <summary>The policy version evaluated: after step s's update it is s + 1; before the first step, 0.</summary>
    public long PolicyVersion { get; init; }

    /// <summary>Prompts per task.</summary>
    public int Prompts { get; init; }

    /// <summary>Share of the task's validation prompts answered right, by task.</summary>
    public IReadOnlyDictionary<string, double> Accuracy { get; init; } = new Dictionary<string, double>();

    /// <summary>Share of well-formed answers, by task.</summary>
    public IReadOnlyDictionary<string, double> FormatRate { get; init; } = new Dictionary<string, double>();

    public static ValidationMetrics From(EvalReport report, long policyVersion)
    {
        ArgumentNullException.ThrowIfNull(report);
        return new ValidationMetrics
        {
            PolicyVersion = policyVersion,
            Prompts = report.Tasks.Count > 0 ? report.Tasks[0].Prompts : 0,
            Accuracy = report.Tasks.ToDictionary(t => t.Task, t => t.Accuracy),
            FormatRate = report.Tasks.ToDictionary(t => t.Task, t => t.FormatRate),
        };
    }
}
