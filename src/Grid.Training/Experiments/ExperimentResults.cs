namespace Grid.Training.Experiments;

/// <summary>Everything a study measured and how it was run: <c>experiment.json</c>, and what results.md is made from.</summary>
/// <param name="CommandLine">The command as typed (arguments joined with spaces).</param>
/// <param name="Cores">Logical processors of the machine that ran it.</param>
/// <param name="Mode">Where the RL arms ran: "embedded" (one after another in this process) or "cluster".</param>
/// <param name="BudgetChanges">"setting: before -> after" for each setting the budget changed.</param>
/// <param name="SettingsChanged">"setting: default -> value" for each study setting that differs from the defaults.</param>
/// <param name="Tasks">The tasks trained on.</param>
/// <param name="EvalTasks">The tasks every final policy was evaluated on: all of them, trained or not.</param>
/// <param name="EvalPrompts">Held-out test prompts per evaluated task.</param>
/// <param name="TestPrompts">Where the test prompts come from.</param>
public sealed record ExperimentResults(
    string Name,
    DateTimeOffset StartedUtc,
    double WallSeconds,
    string CommandLine,
    int Cores,
    string OperatingSystem,
    string Mode,
    string Budget,
    IReadOnlyList<string> BudgetChanges,
    IReadOnlyList<string> SettingsChanged,
    BasePolicy Base,
    IReadOnlyList<string> Arms,
    IReadOnlyList<string> Tasks,
    IReadOnlyList<string> EvalTasks,
    IReadOnlyList<long> Seeds,
    int EvalPrompts,
    string TestPrompts,
    IReadOnlyList<ArmCompute> Compute,
    IReadOnlyList<ArmResult> Runs,
    IReadOnlyList<ExperimentCell> Cells,
    IReadOnlyList<ArmComparison> Comparisons)
{
    /// <summary>The held-out stream, the same prompts for every arm and seed, never used for training or choosing.</summary>
    public const string HeldOutTestPrompts =
        "the held-out stream (PromptSource.HeldOut): the same prompts for every arm and seed, never trained on or used to choose hyper-parameters";

    /// <summary>A study on the user's dataset: its eval part, the same records for every arm and seed.</summary>
    public const string DatasetTestPrompts =
        "the dataset's eval part (data.eval, or the records of data.train the split holds out): the same records for every arm and seed, never trained on";

    public ExperimentCell? Cell(string arm, string trainedTask, string evalTask) =>
        Cells.FirstOrDefault(c => c.Arm == arm && c.TrainedTask == trainedTask && c.EvalTask == evalTask);
}
