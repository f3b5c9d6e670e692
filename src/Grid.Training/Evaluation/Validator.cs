using Grid.Core;
using Grid.Policy.Model;
using Grid.Policy.Prompting;
using Grid.Tasks;
using Grid.Tasks.Verification;
using Grid.Training.Data;
using Grid.Training.Metrics;
using Grid.Training.Rollouts;
using Grid.Training.Settings;

namespace Grid.Training.Evaluation;

/// <summary>
/// The validation curve of a GRPO-D run: when the policy is evaluated (once before the first step, after the update of
/// every <c>eval_every</c>-th step and of the last one) and on what (greedy, the first <c>validation_prompts</c> prompts
/// of every task's <see cref="PromptSource.Validation"/> stream, never the held-out test prompts). The in-process loop
/// and the grid's learner both use it on their torch thread, so in deterministic mode they record the same numbers.
/// </summary>
public sealed class Validator
{
    private readonly RunSettings _settings;
    private readonly Evaluator _evaluator;
    private readonly IReadOnlyList<IVisualTask> _tasks;
    private readonly string _trainedTask;

    /// <param name="data">What the run trains on; null: the built-in tasks.</param>
    /// <param name="codec">How the policy reads and writes text; null: the run data's tokenizer.</param>
    public Validator(RunSettings settings, RunData? data = null, IPromptCodec? codec = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _settings = settings;
        _evaluator = new Evaluator(new TaskVerifier(settings.FormatWeight), settings.MaxNewTokens, codec ?? data?.Tokenizer);
        _tasks = data?.EvalTasks ?? TaskCatalog.All;
        _trainedTask = data?.TrainedTask ?? settings.Task;
    }

    /// <summary>Whether the policy is validated before <paramref name="step"/> runs: only before the first step.</summary>
    public bool Before(long step) => _settings.EvalEvery > 0 && step == 0;

    /// <summary>Whether the policy the update of <paramref name="step"/> made is validated.</summary>
    public bool After(long step) =>
        _settings.EvalEvery > 0 && ((step + 1) % _settings.EvalEvery == 0 || step + 1 == _settings.Steps);

    /// <summary>Evaluates <paramref name="policy"/> (version <paramref name="policyVersion"/>) synchronously on the
    /// calling thread, which must own the policy's torch work; returns the scores and the seconds it took.</summary>
    public (ValidationMetrics Validation, double Seconds) Validate(PolicyModel policy, long policyVersion)
    {
        var report = _evaluator.Evaluate(policy, _tasks, _settings.ValidationPrompts, "validation", _trainedTask,
            RunData.Validation);
        return (ValidationMetrics.From(report, policyVersion), report.Seconds);
    }
}
