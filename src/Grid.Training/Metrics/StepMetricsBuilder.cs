using Grid.Core;
using Grid.Training.Learner;
using Grid.Training.Rollouts;

namespace Grid.Training.Metrics;

/// <summary>Folds a step's scored groups and the learner's report into <see cref="StepMetrics"/>.</summary>
public static class StepMetricsBuilder
{
    /// <param name="validationStart">The policy's validation before the first step, on that step only.</param>
    /// <param name="validation">The validation of the policy the step's update made, on steps that validate.</param>
    /// <param name="secondsValidation">Time spent on both; counted in the step's total time.</param>
    public static StepMetrics Build(long step, double beta, IReadOnlyList<ScoredGroup> groups, LearnerStepReport report,
        double secondsRollout, double secondsReward, double secondsPublish, ValidationMetrics? validationStart = null,
        ValidationMetrics? validation = null, double secondsValidation = 0)
    {
        var rollouts = groups.SelectMany(g => g.Rollouts).ToArray();
        var rewards = rollouts.Select(r => r.Reward.Total).ToArray();
        double mean = rewards.Length > 0 ? rewards.Average() : 0;
        double std = rewards.Length > 1
            ? Math.Sqrt(rewards.Sum(r => (r - mean) * (r - mean)) / (rewards.Length - 1))
            : 0;
        var lengths = rollouts.Select(r => r.CompletionTokens.Length).ToArray();
        return new StepMetrics
        {
            Step = step,
            PolicyVersion = step,
            Beta = beta,
            RewardMean = mean,
            RewardStd = std,
            Accuracy = rollouts.Length > 0 ? rollouts.Average(r => r.Reward.Accuracy) : 0,
            FormatRate = rollouts.Length > 0 ? rollouts.Average(r => r.Reward.Format) : 0,
            ZeroStdGroupFraction = groups.Count > 0 ? groups.Count(g => g.HasZeroRewardSpread) / (double)groups.Count : 0,
            KlMean = report.MeanKl,
            Loss = report.Loss,
            ClipFraction = report.ClipFraction,
            ClipFractionLow = report.ClipFractionLow,
            ClipFractionHigh = report.ClipFractionHigh,
            Entropy = report.Entropy,
            CompletionLengthMean = lengths.Length > 0 ? lengths.Average() : 0,
            CompletionLengthMax = lengths.Length > 0 ? lengths.Max() : 0,
            GradNorm = report.GradNorm,
            TokensGenerated = lengths.Sum(),
            Groups = groups.Count,
            UpdateSkipped = report.Skipped,
            StalenessGroups = Staleness(step, groups),
            ImportanceWeightMean = report.Weights.Mean,
            ImportanceWeightMax = report.Weights.Max,
            ImportanceWeightCappedFraction = report.Weights.CappedFraction,
            SkipReason = report.SkipReason,
            Validation = validation,
            ValidationStart = validationStart,
            SecondsRollout = secondsRollout,
            SecondsReward = secondsReward,
            SecondsReference = report.SecondsReference,
            SecondsUpdate = report.SecondsUpdate,
            SecondsPublish = secondsPublish,
            SecondsValidation = secondsValidation,
            SecondsTotal = secondsRollout + secondsReward + report.SecondsReference + report.SecondsUpdate + secondsPublish
                + secondsValidation,
            ProcessRssBytes = Environment.WorkingSet,
        };
    }

    /// <summary>Groups by versions of lag behind the step's policy version (step s updates version s).</summary>
    private static int[] Staleness(long step, IReadOnlyList<ScoredGroup> groups)
    {
        if (groups.Count == 0)
        {
            return [];
        }

        var counts = new int[groups.Max(g => g.LagBehind(step)) + 1];
        foreach (var group in groups)
        {
            counts[group.LagBehind(step)]++;
        }

        return counts;
    }
}
