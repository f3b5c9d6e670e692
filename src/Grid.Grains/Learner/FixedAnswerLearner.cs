using Grid.Contracts.Learning;
using Grid.Contracts.Rollouts;
using Grid.Grains.Rollouts;
using Grid.Hosting.Weights;
using Grid.Tasks;
using Grid.Tasks.Images;
using Grid.Tasks.Rewards;
using Grid.Telemetry;
using Grid.Training;
using Grid.Training.Learner;
using Grid.Training.Rollouts;
using Grid.Training.Settings;
using Microsoft.Extensions.Logging;

namespace Grid.Grains.Learner;

/// <summary>
/// The learner of a <see cref="FixedAnswerPolicy"/> silo, for benchmarking the grid: no torch, no update,
/// placeholder weights published as every version, so the grain's storage, bookkeeping and reports cost what they
/// would in training. With a <see cref="FixedAnswerCost"/>, each update waits its simulated time (no CPU).
/// </summary>
internal sealed class FixedAnswerLearner(LearnerContext context, FixedAnswerCost? cost = null) : ILearnerModel
{
    /// <summary>Stands in for the prompt in a fixed-answer step's groups; step metrics never read it.</summary>
    private static readonly TaskExample NoPrompt = new("fixed-answer", "fixed-answer", "", "", new RgbImage(1, 1, new byte[3]), "");

    public LearnerDevice Device => LearnerDevice.Cpu;

    /// <summary>Publishes placeholder weights as version 0, whatever it is set up from: there is nothing to resume.</summary>
    public async Task<LearnerStart> StartAsync(LearnerSetup setup, RunSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var placeholder = await context.Weights.PublishAsync(context.RunId, 0, FixedAnswerPolicy.PlaceholderWeights(context.RunId, 0));
        context.Logger.LogWarning("Learner of run {RunId} uses the fixed-answer benchmark policy: it will not train", context.RunId);
        return new LearnerStart(placeholder, PolicyRuntime.ConfigFor(settings.Model, settings.MaxNewTokens), NextStep: 0,
            UpdatesSkipped: 0);
    }

    /// <summary>
    /// The benchmark's "update": none, no torch. The groups keep their rewards for the step's metrics; their prompts
    /// are not regenerated (the metrics do not read them).
    /// </summary>
    public LearnerStepWork Apply(StepPlan plan, IReadOnlyList<ScoredGroupRecord> records)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var scored = records.Select(r => new ScoredGroup(r.Step, r.PromptIndex, NoPrompt, [],
            r.Rollouts.Select(x => new Rollout(x.CompletionTokens, x.SamplingLogProbs, x.Text,
                new Reward(x.Accuracy, x.Format, x.Reward))).ToArray(), r.Advantages)
        { SamplingVersion = r.PolicyVersion }).ToArray(); // the step's metrics count groups by how far their sampler lagged
        var report = new LearnerStepReport(0, 0, 0, 0, 0, 0, 0, true, "fixed-answer benchmark policy: nothing to train", 0, 0);
        var update = (new GrpoStepUpdate(plan.Step, plan.Beta, scored, report),
            FixedAnswerPolicy.PlaceholderWeights(context.RunId, plan.Step + 1));
        double seconds = records.Sum(r => r.Rollouts.Length) * (cost?.LearnerSecondsPerSample ?? 0);
        return new LearnerStepWork(seconds > 0 ? After(TimeSpan.FromSeconds(seconds), update) : Task.FromResult(update),
            OptimizerState: null, LearnerStepWork.NoValidation, LearnerStepWork.NoValidation);
    }

    /// <summary>The simulated update: a wait, holding no thread.</summary>
    private static async Task<(GrpoStepUpdate Update, byte[] Weights)> After(TimeSpan wait, (GrpoStepUpdate, byte[]) update)
    {
        await Task.Delay(wait).ConfigureAwait(false);
        return update;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
