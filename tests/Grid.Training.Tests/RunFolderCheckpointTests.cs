using Grid.Training.Runs;
using Grid.Training.Settings;

namespace Grid.Training.Tests;

/// <summary>
/// Which checkpoint of a run folder <c>grid eval RUN</c> takes, and which task a checkpoint was trained on, read from
/// the folder alone (checkpoint.json is written last, so a folder without it is incomplete).
/// </summary>
public sealed class RunFolderCheckpointTests : IDisposable
{
    private readonly string _run = Directory.CreateTempSubdirectory("grid-run-folder-").FullName;

    public RunFolderCheckpointTests() =>
        File.WriteAllText(Path.Combine(_run, RunFolderReport.SettingsFile),
            RunSettingsLoader.ToJson(RunSettingsLoader.Load("smoke", overrides: ["task=\"counting\""])));

    [Fact]
    public void A_run_without_a_complete_checkpoint_has_no_final_one()
    {
        Assert.Null(RunFolderReport.FinalCheckpoint(_run));
        MakeCheckpoint("step-000002", complete: false);
        Assert.Null(RunFolderReport.FinalCheckpoint(_run));
    }

    [Fact]
    public void An_unfinished_run_ends_with_its_newest_complete_checkpoint_then_its_warm_start()
    {
        string sft = MakeCheckpoint("sft");
        Assert.Equal(sft, RunFolderReport.FinalCheckpoint(_run));
        string step2 = MakeCheckpoint("step-000002");
        MakeCheckpoint("step-000010");
        MakeCheckpoint("step-000004", complete: false);
        Assert.EndsWith("step-000010", RunFolderReport.FinalCheckpoint(_run));
        Assert.Equal("counting", RunFolderReport.TrainedTaskOf(step2));
        Assert.Null(RunFolderReport.TrainedTaskOf(sft));
    }

    [Fact]
    public void A_checkpoint_outside_a_run_folder_has_no_trained_task()
    {
        string loose = Path.Combine(_run, "elsewhere", "step-000001");
        Directory.CreateDirectory(loose);
        Assert.Null(RunFolderReport.TrainedTaskOf(loose));
    }

    private string MakeCheckpoint(string name, bool complete = true)
    {
        string folder = Path.Combine(_run, "checkpoints", name);
        Directory.CreateDirectory(folder);
        if (complete)
        {
            File.WriteAllText(Path.Combine(folder, "checkpoint.json"), "{}");
        }

        return folder;
    }

    public void Dispose() => Directory.Delete(_run, recursive: true);
}
