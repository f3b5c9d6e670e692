namespace Grid.Core;

/// <summary>
/// Held-out evaluation on every task, so cross-task transfer is visible next to the trained task. TrainedTask is null
/// when no single task was trained (a warm start on both, or a checkpoint from outside a run folder).
/// </summary>
public sealed record EvalReport(string Label, string? TrainedTask, IReadOnlyList<TaskScore> Tasks, double Seconds)
{
    public TaskScore For(string task) => Tasks.First(t => t.Task == task);
}
