using System.Text;

namespace Grid.Training.Experiments;

/// <summary>
/// results.md of a study: (1) same-task accuracy shaped like the paper's Table 1 (rows arms, columns "trained X ->
/// eval X", mean +- sd in %), (2) cross-task accuracy with each arm's relative change over SFT, (3) what the study can
/// resolve, (4) how it was run.
/// </summary>
public static class ResultsMarkdown
{
    public const string FileName = "results.md";

    public static string Render(ExperimentResults results, string? chartFile = null)
    {
        ArgumentNullException.ThrowIfNull(results);
        var md = new StringBuilder();
        md.AppendLine($"# Experiment {results.Name}");
        md.AppendLine();
        md.AppendLine(
            $"Greedy accuracy on {results.EvalPrompts} held-out test prompts per task, in %, mean +- sample sd over "
            + $"{results.Seeds.Count} seed(s) ({string.Join(", ", results.Seeds)}). Test prompts: {results.TestPrompts}. "
            + "The KL settings are the paper's (OThink-MR1, arXiv 2503.16081), not chosen on these prompts.");
        md.AppendLine();

        var same = results.Tasks.Select(t => (Trained: t, Eval: t)).ToArray();
        var cross = results.Tasks.SelectMany(t => results.EvalTasks.Where(e => e != t).Select(e => (Trained: t, Eval: e))).ToArray();

        md.AppendLine("## Same task (the paper's Table 1)");
        md.AppendLine();
        Table(md, results, same, relative: false);
        md.AppendLine();

        md.AppendLine("## Cross task (trained on one task, evaluated on the other)");
        md.AppendLine();
        if (cross.Length == 0)
        {
            md.AppendLine("Every policy was evaluated on its trained task only; no cross-task cell.");
        }
        else
        {
            md.AppendLine("In brackets: the change over SFT in %, (arm - sft) / sft * 100, as the paper reports it.");
            md.AppendLine();
            Table(md, results, cross, relative: true);
        }

        md.AppendLine();
        md.AppendLine("## What this study can resolve");
        md.AppendLine();
        md.AppendLine(
            $"Standard error of a cell: sqrt(sd^2 / n + p (1 - p) / {results.EvalPrompts}), the seed spread and the binomial "
            + "noise of the test prompts; of a difference: the root of both cells' squared standard errors. A difference "
            + $"counts as resolved above {ExperimentStatistics.ResolvingStandardErrors:0} standard errors. Cells with n=1 "
            + "count no seed spread: the base has none (one policy, evaluated greedily), a trained arm with one seed has an "
            + "unknown one, which its error leaves out. At 0% or 100% the binomial term is 0 and understates the noise.");
        md.AppendLine();
        foreach (var (trained, evaluated) in same.Concat(cross))
        {
            Resolution(md, results, trained, evaluated);
        }

        md.AppendLine();
        md.AppendLine("## Compute");
        md.AppendLine();
        md.AppendLine("| arm | runs | steps | examples per step | group size | max new tokens | tokens generated |");
        md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var c in results.Compute)
        {
            md.AppendLine(
                $"| {c.Arm} | {c.Runs} | {c.Steps} | {c.ExamplesPerStep} | {c.GroupSize?.ToString() ?? "-"} "
                + $"| {c.MaxNewTokens?.ToString() ?? "-"} | {c.TokensGenerated} |");
        }

        md.AppendLine();
        md.AppendLine("## How it was run");
        md.AppendLine();
        md.AppendLine($"- command: `{results.CommandLine}`");
        md.AppendLine(
            $"- date: {results.StartedUtc.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC; wall time {results.WallSeconds / 60:F1} min");
        md.AppendLine($"- machine: {results.Cores} cores, {results.OperatingSystem}");
        md.AppendLine($"- RL arms ran on: {results.Mode}");
        md.AppendLine($"- budget {results.Budget}: "
            + (results.BudgetChanges.Count == 0 ? "no setting changed" : string.Join("; ", results.BudgetChanges)));
        md.AppendLine($"- base policy: `{results.Base.Checkpoint}` (sha256 {results.Base.Sha256}; "
            + (results.Base.WarmStarted ? "the default warm start, run by this study" : "given with --base") + ")");
        md.AppendLine("- settings that differ from the defaults"
            + (results.SettingsChanged.Count == 0 ? ": none" : ":"));
        foreach (string line in results.SettingsChanged)
        {
            md.AppendLine($"  - `{line}`");
        }

        md.AppendLine("- arms: " + string.Join(", ", results.Arms.Select(a => ExperimentArm.All.FirstOrDefault(x => x.Name == a)
            is { } arm ? $"{a} ({arm.Description})" : a)));
        md.AppendLine("- every run's folder is under `runs/`; every number is in `experiment.json`"
            + (chartFile is null ? "." : $"; the chart is `{chartFile}`."));
        return md.ToString();
    }

    /// <summary>A cell as "mean +- sd" in %, or "mean (n=1)" when there is no spread to show.</summary>
    public static string Format(ExperimentCell cell)
    {
        ArgumentNullException.ThrowIfNull(cell);
        return cell.N > 1
            ? $"{cell.Mean * 100:F1} +- {cell.Sd * 100:F1}"
            : $"{cell.Mean * 100:F1} (n=1)";
    }

    /// <summary>A relative change as the paper writes it ("+61.6%"); "n/a: sft 0%" when it is undefined.</summary>
    public static string FormatRelative(double? percent) => percent is { } p
        ? $"{p:+0.0;-0.0;0.0}%"
        : "n/a: sft 0%";

    private static void Table(StringBuilder md, ExperimentResults results, IReadOnlyList<(string Trained, string Eval)> columns,
        bool relative)
    {
        md.AppendLine("| arm | " + string.Join(" | ", columns.Select(c => $"trained {c.Trained} -> eval {c.Eval}")) + " |");
        md.AppendLine("| --- |" + string.Concat(columns.Select(_ => " ---: |")));
        foreach (string arm in results.Arms)
        {
            var cells = columns.Select(c => results.Cell(arm, c.Trained, c.Eval)).ToArray();
            md.AppendLine($"| {arm} | " + string.Join(" | ", cells.Select(cell => cell is null ? "-"
                : relative ? WithRelative(results, cell) : Format(cell))) + " |");
        }
    }

    /// <summary>The cell and its change over SFT; the sft row is the reference, and without an sft arm there is none.</summary>
    private static string WithRelative(ExperimentResults results, ExperimentCell cell)
    {
        if (cell.Arm == ExperimentArm.Sft.Name)
        {
            return $"{Format(cell)} [reference]";
        }

        return results.Cell(ExperimentArm.Sft.Name, cell.TrainedTask, cell.EvalTask) is null
            ? Format(cell)
            : $"{Format(cell)} [{FormatRelative(cell.RelativeToSftPercent)}]";
    }

    private static void Resolution(StringBuilder md, ExperimentResults results, string trained, string evaluated)
    {
        var cells = results.Cells.Where(c => c.TrainedTask == trained && c.EvalTask == evaluated).ToArray();
        if (cells.Length == 0)
        {
            return;
        }

        var line = new StringBuilder($"- trained {trained} -> eval {evaluated}: standard error ");
        line.Append(string.Join(", ", cells.Select(c => $"{c.Arm} {c.StandardError * 100:F1}")));
        line.Append(" points");
        foreach (var comparison in results.Comparisons.Where(c => c.TrainedTask == trained && c.EvalTask == evaluated))
        {
            line.Append(
                $"; {comparison.Arm} - {comparison.Against} = {comparison.Difference * 100:+0.0;-0.0;0.0} points "
                + $"(SE {comparison.StandardError * 100:F1}): "
                + (comparison.Resolved
                    ? "resolved"
                    : $"not resolved (needs more than {ExperimentStatistics.ResolvingStandardErrors * comparison.StandardError * 100:F1})"));
        }

        md.AppendLine(line.Append('.').ToString());
    }
}
