using Grid.Core;
using Grid.Core.Settings;
using Grid.Policy.Checkpoints;
using Grid.Training;
using Grid.Training.Runs;

namespace Grid.Cli.Embedded;

/// <summary>
/// What a run folder of <c>grid train</c> on the embedded grid holds after an interruption (kill -9, Ctrl+C, a full
/// disk, a reboot), and so where its resume starts: the warm start again (it keeps no checkpoints of its own), GRPO-D
/// from the warm start's checkpoint, or GRPO-D where the grid's persisted state (grid-state/ and the weight store)
/// left it: the controller's step, KL controller and beta, and the learner's newest weights and optimizer state.
/// </summary>
internal sealed record InterruptedRun(string Folder, RunSettings Settings, TrainingResult? WarmStart, bool GridStarted,
    bool Finished)
{
    /// <summary>Reads <paramref name="path"/>; refuses a folder that is no run folder or cannot be resumed, saying why.</summary>
    public static InterruptedRun Read(string path)
    {
        if (string.IsNullOrWhiteSpace(path) || path.Any(char.IsControl) || !RunFolderReport.IsRunFolder(path))
        {
            throw new InvalidSettingException("resume", path,
                "a run folder of grid train (it holds settings.json), e.g. runs/demo-20261208-031500");
        }

        string folder = Path.GetFullPath(path);
        var settings = RunFolderReport.ReadJson<RunSettings>(folder, RunFolderReport.SettingsFile)!;
        var start = RunFolderReport.ReadJson<EvalReport>(folder, "eval-start.json");
        var summary = RunFolderReport.ReadJson<TrainingResult>(folder, "summary.json");
        bool finished = summary is { } done && done.StepsCompleted >= settings.Steps && settings.Steps > 0
            && File.Exists(Path.Combine(folder, "eval-final.json"));
        string stateFolder = Path.Combine(folder, EmbeddedGrid.StateFolder);
        bool gridStarted = Directory.Exists(stateFolder) && Directory.EnumerateFiles(stateFolder, "*.state").Any();
        if (!gridStarted && !finished && File.Exists(Path.Combine(folder, "metrics.jsonl"))
            && new FileInfo(Path.Combine(folder, "metrics.jsonl")).Length > 0)
        {
            throw new InvalidSettingException("resume", path,
                $"a run folder of grid train on the embedded grid: this one has GRPO-D steps but no {EmbeddedGrid.StateFolder}/ "
                + "(a run of grid train --in-process, which keeps no optimizer state to resume from); start it again with grid train");
        }

        string warmCheckpoint = settings.InitCheckpoint ?? Path.Combine(folder, "checkpoints", "sft");
        TrainingResult? warm = null;
        if (start is not null && File.Exists(Path.Combine(warmCheckpoint, PolicyCheckpoint.ManifestFileName)))
        {
            warm = new TrainingResult(folder, start, start, 0, 0, summary?.SecondsSft ?? 0, 0, summary?.SecondsSft ?? 0,
                warmCheckpoint, 0);
        }

        return new InterruptedRun(folder, settings, warm, gridStarted && warm is not null, finished);
    }

    /// <summary>Where the resume starts, in words.</summary>
    public string Describe() => Finished ? "the run has finished"
        : GridStarted ? "GRPO-D from the grid's persisted state (the controller's step, the learner's newest weights and optimizer state)"
        : WarmStart is not null ? "GRPO-D from step 0, after the warm start it kept"
        : "the warm start, from its first step (it keeps no checkpoints of its own)";
}
