namespace Grid.Training.Experiments;

/// <summary>From the runs of a study to its cells (mean, sd, standard error, change over SFT) and its comparisons.</summary>
public static class ExperimentAggregation
{
    /// <summary>
    /// One cell per arm, trained task and evaluated task, in table order. The base arm trains on nothing: its one
    /// evaluation fills its cell under every trained task.
    /// </summary>
    /// <param name="trainedTasks">The tasks the study trained on.</param>
    /// <param name="evalTasks">The tasks every final policy was evaluated on (all of them, trained or not).</param>
    public static IReadOnlyList<ExperimentCell> Cells(IReadOnlyList<ArmResult> runs, IReadOnlyList<string> arms,
        IReadOnlyList<string> trainedTasks, IReadOnlyList<string> evalTasks, int evalPrompts)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var cells = new List<ExperimentCell>();
        foreach (string trained in trainedTasks)
        {
            foreach (string evaluated in evalTasks)
            {
                var summaries = new List<(string Arm, double[] Values, SampleSummary Summary)>();
                foreach (string arm in arms)
                {
                    double[] values = runs
                        .Where(r => r.Arm == arm && (r.TrainedTask == trained || r.TrainedTask is null))
                        .OrderBy(r => r.Seed)
                        .Select(r => r.Accuracy[evaluated])
                        .ToArray();
                    if (values.Length > 0)
                    {
                        summaries.Add((arm, values, SampleSummary.Of(values)));
                    }
                }

                double? sft = summaries.Where(s => s.Arm == ExperimentArm.Sft.Name).Select(s => (double?)s.Summary.Mean).FirstOrDefault();
                cells.AddRange(summaries.Select(s => new ExperimentCell(s.Arm, trained, evaluated, s.Values, s.Summary.Mean,
                    s.Summary.Sd, s.Summary.N, ExperimentStatistics.StandardError(s.Summary, evalPrompts),
                    sft is { } reference ? ExperimentStatistics.RelativeChangePercent(s.Summary.Mean, reference) : null)));
            }
        }

        return cells;
    }

    /// <summary>GRPO-D against fixed-beta GRPO and against SFT, in every column where both arms have a cell.</summary>
    public static IReadOnlyList<ArmComparison> Comparisons(IReadOnlyList<ExperimentCell> cells)
    {
        ArgumentNullException.ThrowIfNull(cells);
        var comparisons = new List<ArmComparison>();
        foreach (var column in cells.GroupBy(c => (c.TrainedTask, c.EvalTask)))
        {
            var arm = column.FirstOrDefault(c => c.Arm == ExperimentArm.GrpoD.Name);
            if (arm is null)
            {
                continue;
            }

            foreach (string against in new[] { ExperimentArm.Grpo.Name, ExperimentArm.Sft.Name })
            {
                if (column.FirstOrDefault(c => c.Arm == against) is { } other)
                {
                    double difference = arm.Mean - other.Mean;
                    double se = ExperimentStatistics.DifferenceStandardError(arm.StandardError, other.StandardError);
                    comparisons.Add(new ArmComparison(column.Key.TrainedTask, column.Key.EvalTask, arm.Arm, against,
                        difference, se, ExperimentStatistics.Resolves(difference, se)));
                }
            }
        }

        return comparisons;
    }

    /// <summary>Each trained arm's compute: the shape of its runs (from the plan) and the tokens they sampled.</summary>
    public static IReadOnlyList<ArmCompute> Compute(ExperimentPlan plan, IReadOnlyList<ArmResult> runs)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(runs);
        var compute = new List<ArmCompute>();
        foreach (var arm in plan.Arms.Where(a => a != ExperimentArm.Base))
        {
            var s = plan.Runs.First(r => r.Arm == arm).Settings;
            var done = runs.Where(r => r.Arm == arm.Name).ToArray();
            compute.Add(arm == ExperimentArm.Sft
                ? new ArmCompute(arm.Name, s.Sft.Steps, s.Sft.BatchSize, null, null, done.Length, done.Sum(r => r.TokensGenerated))
                : new ArmCompute(arm.Name, s.Steps, s.PromptsPerStep, s.GroupSize, s.MaxNewTokens, done.Length,
                    done.Sum(r => r.TokensGenerated)));
        }

        return compute;
    }
}
