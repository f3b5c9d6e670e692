using System.Diagnostics;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Grid.Cluster.Tests.Infrastructure;

namespace Grid.Cluster.Tests.Cluster;

/// <summary>
/// The cluster as a user runs it: Azurite, three `grid silo` processes on loopback (one declares a GPU, so the learner
/// lands there), and `grid submit --wait` as a client process.
/// </summary>
public sealed class MultiProcessClusterTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>, IAsyncDisposable
{
    private const string RunId = "cluster-smoke";
    private static readonly TimeSpan SiloStartTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(240);
    private readonly GridProcesses _processes = new("grid-cluster-");

    [Fact]
    public async Task A_run_submitted_to_three_silo_processes_completes_with_state_and_weights_in_azure_storage()
    {
        var cancellation = TestContext.Current.CancellationToken;
        var log = TestContext.Current.TestOutputHelper!;
        string clusterId = "it-" + Guid.NewGuid().ToString("N")[..8];
        var environment = new Dictionary<string, string?> { ["GRID_AZURE_STORAGE"] = azurite.ConnectionString };
        string[] common = ["--cluster", "azure", "--storage", "azure", "--cluster-id", clusterId];

        var startClock = Stopwatch.StartNew();
        var silos = await StartSilosAsync("", environment, common, cancellation);
        double secondsToCluster = startClock.Elapsed.TotalSeconds;
        var runClock = Stopwatch.StartNew();
        var submit = Start("submit", environment,
            ["submit", "--preset", "smoke", .. common, "--run-id", RunId, "--wait", "--output", Path.Combine(_processes.WorkFolder, "runs")]);
        int submitExit = await submit.WaitForExitAsync(RunTimeout, cancellation);
        double secondsRun = runClock.Elapsed.TotalSeconds;
        log.WriteLine($"cluster of 3 silo processes up in {secondsToCluster:F1} s; submit --wait (SFT + 3 steps + eval) took {secondsRun:F1} s");
        log.WriteLine(submit.Output);

        Assert.True(submitExit == 0, $"grid submit exited {submitExit}:\n{submit.Output}\n{SiloLogs()}");
        Assert.Contains($"run {RunId} completed 3 steps", submit.Output);
        string runFolder = Directory.GetDirectories(Path.Combine(_processes.WorkFolder, "runs")).Single();
        Assert.Equal(3, File.ReadAllLines(Path.Combine(runFolder, "metrics.jsonl")).Length);
        Assert.True(File.Exists(Path.Combine(runFolder, "eval-final.json")));
        Assert.True(File.Exists(Path.Combine(runFolder, "plots", "beta.png")), $"submit --wait wrote no plots in {runFolder}");

        // The learner was placed on the one silo that declared a GPU.
        Assert.Contains($"Learner of run {RunId} ready on", silos[0].Output);
        Assert.DoesNotContain("Learner of run", silos[1].Output + silos[2].Output);

        var status = Start("status", environment, ["status", RunId, .. common]);
        Assert.Equal(0, await status.WaitForExitAsync(TimeSpan.FromSeconds(60), cancellation));
        Assert.Contains("Completed", status.Output);
        Assert.Contains("3/3", status.Output);

        // Grain state in Azure Table: the membership table and the grains' state rows (controller + 3 x 4 groups).
        var tables = new TableServiceClient(azurite.ConnectionString);
        var tableNames = tables.Query(cancellationToken: cancellation).Select(t => t.Name).ToList();
        Assert.Contains("OrleansSiloInstances", tableNames);
        Assert.Contains("OrleansGrainState", tableNames);
        int stateRows = tables.GetTableClient("OrleansGrainState").Query<TableEntity>(cancellationToken: cancellation).Count();
        Assert.True(stateRows >= 13, $"expected the controller's and 12 prompt groups' state rows, found {stateRows}");

        // Weights in Azure Blob: version 0 from the client, one version per step from the learner, and the latest pointer;
        // each learner version is a checkpoint (its weights, its optimizer state and the record naming both), of which the
        // newest two and every checkpoint_every-th (smoke: 2) stay: version 1's is pruned once version 3 is checkpointed.
        var weights = new BlobServiceClient(azurite.ConnectionString).GetBlobContainerClient("grid-weights");
        var blobs = weights.GetBlobs(BlobTraits.None, BlobStates.None, RunId + "/", cancellation).Select(b => b.Name).ToList();
        Assert.Equal(3, blobs.Count(b => b.StartsWith($"{RunId}/v", StringComparison.Ordinal) && b.EndsWith(".bin", StringComparison.Ordinal)));
        foreach (int version in new[] { 0, 2, 3 })
        {
            Assert.Contains(blobs, b => b.StartsWith($"{RunId}/v{version:D12}-", StringComparison.Ordinal));
        }

        Assert.DoesNotContain(blobs, b => b.StartsWith($"{RunId}/v{1:D12}-", StringComparison.Ordinal));

        Assert.DoesNotContain(blobs, b => b.StartsWith($"{RunId}/optimizer/v{1:D12}-", StringComparison.Ordinal));
        Assert.DoesNotContain($"{RunId}/records/checkpoint-v{1:D12}", blobs);
        for (int version = 2; version <= 3; version++)
        {
            Assert.Contains(blobs, b => b.StartsWith($"{RunId}/optimizer/v{version:D12}-", StringComparison.Ordinal));
            Assert.Contains($"{RunId}/records/checkpoint-v{version:D12}", blobs);
        }

        Assert.Contains($"{RunId}/latest.json", blobs);

        // The connection string's key appears in no process's output.
        string key = azurite.ConnectionString.Split(';').Single(p => p.StartsWith("AccountKey=", StringComparison.Ordinal))[11..];
        Assert.All(_processes.All, p => Assert.DoesNotContain(key, p.Output));

        // SIGTERM: a silo leaves gracefully and exits 0.
        silos[2].Terminate();
        Assert.Equal(0, await silos[2].WaitForExitAsync(TimeSpan.FromSeconds(45), cancellation));
        Assert.Contains("grid silo stopped", silos[2].Output);
    }

    [Fact]
    public async Task After_a_full_cluster_restart_resume_continues_the_run_to_completion()
    {
        const string run = "cluster-resume";
        var cancellation = TestContext.Current.CancellationToken;
        var log = TestContext.Current.TestOutputHelper!;
        string clusterId = "it-" + Guid.NewGuid().ToString("N")[..8];
        var environment = new Dictionary<string, string?> { ["GRID_AZURE_STORAGE"] = azurite.ConnectionString };
        string[] common = ["--cluster", "azure", "--storage", "azure", "--cluster-id", clusterId];
        var first = await StartSilosAsync("first-", environment, common, cancellation);
        var submit = Start("submit", environment,
            ["submit", "--preset", "smoke", "--set", "steps=8", .. common, "--run-id", run, "--output", Path.Combine(_processes.WorkFolder, "runs")]);
        Assert.True(await submit.WaitForExitAsync(RunTimeout, cancellation) == 0, submit.Output);

        // Two steps in, every silo dies at once (kill -9): only Azure Storage remembers the run.
        int versionsAtKill = await WaitForVersionsAsync(run, 3, cancellation);
        foreach (var silo in first)
        {
            await silo.DisposeAsync();
        }

        var clock = Stopwatch.StartNew();
        await StartSilosAsync("second-", environment, common, cancellation);
        var resume = Start("resume", environment, ["resume", run, .. common]);
        Assert.True(await resume.WaitForExitAsync(RunTimeout, cancellation) == 0, resume.Output + SiloLogs());
        Assert.Contains($"run {run} resumed at step", resume.Output);
        Assert.Contains("optimizer state sha256", resume.Output); // the optimizer came back from its checkpoint

        await WaitForVersionsAsync(run, 9, cancellation);
        log.WriteLine($"killed at {versionsAtKill} published versions; restart + resume + the rest of the run took {clock.Elapsed.TotalSeconds:F1} s");
        log.WriteLine(resume.Output);
        var status = Start("status", environment, ["status", run, .. common]);
        Assert.Equal(0, await status.WaitForExitAsync(TimeSpan.FromSeconds(60), cancellation));
        Assert.Contains("Completed", status.Output);
        Assert.Contains("8/8", status.Output);
    }

    public ValueTask DisposeAsync() => _processes.DisposeAsync();

    /// <summary>Three silo processes on loopback, the first declaring a GPU; returns once all have joined.</summary>
    [Fact]
    public async Task A_run_on_own_data_submitted_to_silo_processes_reads_the_dataset_the_client_published_to_the_store()
    {
        var cancellation = TestContext.Current.CancellationToken;
        var log = TestContext.Current.TestOutputHelper!;
        using var data = new Grid.Training.Tests.OwnData.ColourDataset(count: 60);
        const string run = "own-data";
        string clusterId = "it-" + Guid.NewGuid().ToString("N")[..8];
        var environment = new Dictionary<string, string?> { ["GRID_AZURE_STORAGE"] = azurite.ConnectionString };
        string[] common = ["--cluster", "azure", "--storage", "azure", "--cluster-id", clusterId];

        var silos = await StartSilosAsync("own-", environment, common, cancellation);
        var clock = Stopwatch.StartNew();
        var submit = Start("own-submit", environment,
        [
            "submit", "--preset", "smoke", .. common, "--run-id", run, "--wait", "--output", Path.Combine(_processes.WorkFolder, "own-runs"),
            "--set", $"data.train={System.Text.Json.JsonSerializer.Serialize(data.Jsonl)}", "--set", "data.answer_kind=choice",
            "--set", "data.eval_fraction=0.25",
        ]);
        int exit = await submit.WaitForExitAsync(RunTimeout, cancellation);
        log.WriteLine($"submit --wait on own data took {clock.Elapsed.TotalSeconds:F1} s\n{submit.Output}");

        Assert.True(exit == 0, $"grid submit exited {exit}:\n{submit.Output}\n{SiloLogs()}");
        Assert.Contains($"run {run} completed 3 steps", submit.Output);
        Assert.Contains("custom", submit.Output); // evaluated on the dataset's task

        // The archive is in the run's part of the blob container, and the learner's silo downloaded it into its cache.
        var weights = new BlobServiceClient(azurite.ConnectionString).GetBlobContainerClient("grid-weights");
        var archive = Assert.Single(weights.GetBlobs(BlobTraits.None, BlobStates.None, $"{run}/dataset/", cancellation));
        Assert.StartsWith($"{run}/dataset/v{0:D12}-", archive.Name);
        Assert.Contains("Dataset train.jsonl (sha256 ", silos[0].Output);
        Assert.Contains("downloaded into", silos[0].Output);
        Assert.DoesNotContain("cannot be", string.Concat(silos.Select(s => s.Output)));
    }

    private async Task<GridProcess[]> StartSilosAsync(string prefix, Dictionary<string, string?> environment, string[] common,
        CancellationToken cancellation)
    {
        string[][] roles = [["--gpu", "1"], [], []];
        var silos = roles.Select((extra, i) => Start($"{prefix}silo{i}", environment,
        [
            "silo", .. common, .. extra, "--advertised-address", "127.0.0.1",
            "--dataset-cache", Path.Combine(_processes.WorkFolder, $"{prefix}silo{i}-datasets"),
            "--silo-port", GridProcess.FreeLoopbackPort().ToString(), "--gateway-port", GridProcess.FreeLoopbackPort().ToString(),
            "--metrics-port", i == 0 ? GridProcess.FreeLoopbackPort().ToString() : "0",
        ])).ToArray();
        foreach (var silo in silos)
        {
            await silo.WaitForOutputAsync("grid silo ready", SiloStartTimeout, cancellation);
        }

        return silos;
    }

    /// <summary>
    /// Waits until the run has published at least <paramref name="count"/> weight versions (0 to count - 1); returns how
    /// many. Counted from the newest version in the store, since older versions' weights are pruned as the run goes.
    /// </summary>
    private async Task<int> WaitForVersionsAsync(string run, int count, CancellationToken cancellation)
    {
        var weights = new BlobServiceClient(azurite.ConnectionString).GetBlobContainerClient("grid-weights");
        var clock = Stopwatch.StartNew();
        while (true)
        {
            int versions = await weights.ExistsAsync(cancellation)
                ? weights.GetBlobs(BlobTraits.None, BlobStates.None, run + "/", cancellation)
                    .Select(b => b.Name).Where(n => n.StartsWith($"{run}/v", StringComparison.Ordinal) && n.EndsWith(".bin", StringComparison.Ordinal))
                    .Select(n => int.Parse(n[(run.Length + 2)..(run.Length + 14)]) + 1).DefaultIfEmpty(0).Max()
                : 0;
            if (versions >= count)
            {
                return versions;
            }

            Assert.True(clock.Elapsed < RunTimeout, $"run {run} published {versions} of {count} versions in {RunTimeout}:\n{SiloLogs()}");
            await Task.Delay(200, cancellation);
        }
    }

    private GridProcess Start(string name, Dictionary<string, string?> environment, string[] arguments) =>
        _processes.Start(name, environment, arguments);

    private string SiloLogs() => _processes.Logs("silo");
}
