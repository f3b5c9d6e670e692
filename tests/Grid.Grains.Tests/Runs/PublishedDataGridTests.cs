using Grid.Contracts.Rollouts;
using Grid.Contracts.Runs;
using Grid.Core;
using Grid.Grains.Datasets;
using Grid.Grains.Tests.Infrastructure;
using Grid.Hosting.Weights;
using Grid.Training.Data;
using Grid.Training.Settings;
using Grid.Training.Tests.OwnData;
using Microsoft.Extensions.DependencyInjection;

namespace Grid.Grains.Tests.Runs;

/// <summary>
/// On a cluster the silos read a dataset of the user's own from the cluster's store, as <c>grid submit</c> publishes it
/// (<see cref="DatasetPublisher"/>), never from the client's files; a silo whose copy cannot be verified fails the
/// group's attempts with the reason instead of scoring them.
/// </summary>
public sealed class PublishedDataGridTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_cluster_run_reads_the_published_dataset_from_the_store_not_from_the_clients_files()
    {
        using var data = new ColourDataset(count: 80);
        var settings = TestRuns.Smoke("steps=2", "sft.steps=40", "sft.learning_rate=0.01", "learning_rate=0.003",
            $"data.train=\"{data.Jsonl}\"", "data.answer_kind=choice", "data.eval_fraction=0.25");
        var (baseline, expected) = TestRuns.InProcess(settings);
        var gridSettings = settings with { InitCheckpoint = Path.Combine(baseline.RunFolder, "checkpoints", "sft") };

        await using var cluster = await GridCluster.StartAsync(SiloRole.CpuLearner, SiloRole.Plain);
        var publisher = new DatasetPublisher(new LocalFolderWeightStore(cluster.Placement.WeightFolder));
        var dataset = await publisher.PublishAsync("published", gridSettings, RunData.For(gridSettings),
            TestContext.Current.CancellationToken);

        // The same dataset packs to the same archive: its sha256 names it, and it is uploaded once.
        var again = await publisher.PublishAsync("published", gridSettings, RunData.For(gridSettings),
            TestContext.Current.CancellationToken);
        Assert.Equal(dataset, again);
        Assert.Equal(1, publisher.Uploads);

        // The client's files go away: whatever the silos read now came through the store.
        string moved = data.Folder + "-moved";
        Directory.Move(data.Folder, moved);
        try
        {
            var (status, reports) = await cluster.RunAsync("published",
                new RunSpec(gridSettings, AllowCpuLearner: true) { Dataset = dataset }, TimeSpan.FromSeconds(120));

            Assert.True(RunState.Completed == status.State, $"run {status.State}: {status.LastError}");
            for (int step = 0; step < 2; step++)
            {
                output.WriteLine($"step {step}: loss in-process {expected[step].Loss:R} cluster {reports[step].Loss:R}; "
                    + $"reward {expected[step].RewardMean:R} / {reports[step].RewardMean:R}");
                Assert.Equal(expected[step].Loss, reports[step].Loss, 1e-5);
                Assert.Equal(expected[step].RewardMean, reports[step].RewardMean, 1e-12);
                Assert.Equal(0, reports[step].FailedGroups);
            }

            // Each silo downloaded the archive at most once, however many of the groups and the learner used it; the
            // learner's silo certainly did, into its own cache, checked and complete.
            int[] downloads = [cluster.Datasets(0).Downloads, cluster.Datasets(1).Downloads];
            output.WriteLine($"downloads per silo: {string.Join(", ", downloads)}; archive {dataset.Train.Bytes} bytes, "
                + $"sha256 {dataset.Train.Sha256}");
            Assert.All(downloads, d => Assert.InRange(d, 0, 1));
            Assert.True(downloads.Sum() >= 1);
            var learnerSilo = downloads[0] == 1 ? cluster.Datasets(0) : cluster.Datasets(1);
            string copy = Path.Combine(learnerSilo.CacheFolder, dataset.Train.Sha256);
            Assert.True(File.Exists(Path.Combine(copy, SiloDatasets.CompleteMarker)));
            Assert.True(File.Exists(Path.Combine(copy, Path.GetFileName(data.Jsonl))));
            Assert.Equal(80, Directory.GetFiles(Path.Combine(copy, "img")).Length);
        }
        finally
        {
            Directory.Move(moved, data.Folder);
        }
    }

    [Fact]
    public async Task A_silo_whose_copy_fails_verification_fails_each_attempt_with_the_reason_and_never_scores_it()
    {
        var (reports, groups, damaged) = await RunWithDamagedPlainSiloAsync("damaged", damagedReads: int.MaxValue);

        Assert.True(damaged > 0, "no group ran on the damaged silo");
        foreach (var ((step, prompt), group) in groups)
        {
            if (group.Damaged)
            {
                Assert.True(group.Status.Phase == GroupPhase.Failed, $"group {step}/{prompt}: {group.Status.Phase}");
                Assert.Equal(2, group.Status.Attempts); // every attempt tried the download again
                Assert.Contains("damaged in the store", group.Status.LastError);
                Assert.Contains("sha256", group.Status.LastError);
            }
            else
            {
                Assert.Equal(GroupPhase.Delivered, group.Status.Phase);
            }
        }

        foreach (var report in reports)
        {
            int failed = groups.Count(g => g.Key.Step == report.Step && g.Value.Damaged);
            Assert.Equal(failed, report.FailedGroups);
            Assert.Equal(4 - failed, report.Groups); // a failed group is left out, never scored as reward 0
        }

        output.WriteLine($"last error: {groups.Values.First(g => g.Damaged).Status.LastError}");
    }

    [Fact]
    public async Task A_download_that_fails_verification_once_is_retried_and_the_group_delivered()
    {
        var (reports, groups, damaged) = await RunWithDamagedPlainSiloAsync("healed", damagedReads: 1);

        Assert.Equal(1, damaged);
        Assert.All(groups.Values, g => Assert.Equal(GroupPhase.Delivered, g.Status.Phase));
        Assert.Contains(groups.Values, g => g.Damaged && g.Status.Attempts == 2);
        Assert.All(reports, r => Assert.Equal(0, r.FailedGroups));
        Assert.True(reports.Sum(r => r.RetriedAttempts) >= 1);
    }

    /// <summary>
    /// A run on a learner silo and a plain silo whose store damages the first <paramref name="damagedReads"/> downloads of
    /// dataset archives; returns the reports, each group's status (and whether it ran on the damaged silo) and how many
    /// downloads were damaged.
    /// </summary>
    private async Task<(StepReport[] Reports, Dictionary<(long Step, int Prompt), (PromptGroupStatus Status, bool Damaged)> Groups, int Damaged)>
        RunWithDamagedPlainSiloAsync(string runId, int damagedReads)
    {
        using var data = new ColourDataset(count: 40);
        var settings = TestRuns.Smoke("steps=3", "prompts_per_step=4", "rollouts.max_attempts=2",
            "rollouts.backoff_initial_seconds=0.05", "rollouts.backoff_max_seconds=0.2",
            $"data.train=\"{data.Jsonl}\"", "data.answer_kind=choice", "data.eval_fraction=0.25");
        settings = settings with { InitCheckpoint = TestRuns.WarmStart(settings) };
        SiloRole[] roles = [SiloRole.CpuLearner, SiloRole.Plain];
        var damage = new DamagingDatasetStore.Budget(damagedReads);
        await using var cluster = await GridCluster.StartAsync(roles, initialSilos: null, azureStorage: null,
            configureSilo: silo => DamagingDatasetStore.Wrap(silo, roles, SiloRole.Plain, damage));
        var dataset = await new DatasetPublisher(new LocalFolderWeightStore(cluster.Placement.WeightFolder))
            .PublishAsync(runId, settings, RunData.For(settings), TestContext.Current.CancellationToken);

        var (status, reports) = await cluster.RunAsync(runId,
            new RunSpec(settings, AllowCpuLearner: true) { Dataset = dataset }, TimeSpan.FromSeconds(120));

        Assert.True(RunState.Completed == status.State, $"run {status.State}: {status.LastError}");
        var groups = new Dictionary<(long, int), (PromptGroupStatus, bool)>();
        for (long step = 0; step < settings.Steps; step++)
        {
            for (int prompt = 0; prompt < settings.PromptsPerStep; prompt++)
            {
                var group = await cluster.Client.GetGrain<IPromptGroupGrain>(PromptGroupKey.Create(runId, step, prompt)).GetStatus();
                groups[(step, prompt)] = (group, cluster.RoleOf(group.Silo) == SiloRole.Plain);
            }
        }

        output.WriteLine($"{groups.Count(g => g.Value.Item2)} of {groups.Count} groups on the damaged silo; "
            + $"{damage.Used} damaged downloads; attempts {string.Join(" ", groups.Values.Select(g => g.Item1.Attempts))}");
        return (reports, groups, damage.Used);
    }

    /// <summary>A silo's real store whose downloads of dataset archives arrive with one byte flipped (and so fail its
    /// sha256 check), while a budget shared by the cluster lasts.</summary>
    private sealed class DamagingDatasetStore(IWeightStore inner, DamagingDatasetStore.Budget budget) : IWeightStore
    {
        public sealed class Budget(int reads)
        {
            private int _used;

            public int Used => Volatile.Read(ref _used);

            /// <summary>Takes one damaged read from the budget; false once it is spent.</summary>
            public bool Take()
            {
                while (true)
                {
                    int used = Volatile.Read(ref _used);
                    if (used >= reads)
                    {
                        return false;
                    }

                    if (Interlocked.CompareExchange(ref _used, used + 1, used) == used)
                    {
                        return true;
                    }
                }
            }
        }

        /// <summary>Wraps the weight store of the silos of <paramref name="role"/>.</summary>
        public static void Wrap(ISiloBuilder silo, SiloRole[] roles, SiloRole role, Budget budget)
        {
            var original = silo.Services.Last(d => d.ServiceType == typeof(IWeightStore));
            silo.Services.AddSingleton<IWeightStore>(services =>
            {
                var store = (IWeightStore)(original.ImplementationInstance ?? original.ImplementationFactory!(services));
                string name = services.GetRequiredService<ILocalSiloDetails>().Name;
                return roles[int.Parse(name.Split('_')[1], System.Globalization.CultureInfo.InvariantCulture)] == role
                    ? new DamagingDatasetStore(store, budget)
                    : store;
            });
        }

        public async Task<byte[]> ReadAsync(WeightReference reference, CancellationToken cancellationToken = default)
        {
            byte[] bytes = await inner.ReadAsync(reference, cancellationToken);
            if (reference.Uri.AbsolutePath.Contains($"/{DatasetPublisher.Kind}/", StringComparison.Ordinal) && budget.Take())
            {
                bytes = (byte[])bytes.Clone();
                bytes[bytes.Length / 2] ^= 0x40; // damaged on the way, as on a bad disk or link: the store's check sees it
                return WeightIntegrityException.Verified(reference, bytes);
            }

            return bytes;
        }

        public Task<WeightReference> PublishAsync(string runId, long version, Stream content, CancellationToken cancellationToken = default) =>
            inner.PublishAsync(runId, version, content, cancellationToken);

        public Task<WeightReference?> GetLatestAsync(string runId, CancellationToken cancellationToken = default) =>
            inner.GetLatestAsync(runId, cancellationToken);

        public Task<WeightReference> WriteObjectAsync(string runId, long version, string kind, Stream content,
            CancellationToken cancellationToken = default) => inner.WriteObjectAsync(runId, version, kind, content, cancellationToken);

        public Task WriteRecordAsync(string runId, string name, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default) =>
            inner.WriteRecordAsync(runId, name, content, cancellationToken);

        public Task<byte[]?> ReadRecordAsync(string runId, string name, CancellationToken cancellationToken = default) =>
            inner.ReadRecordAsync(runId, name, cancellationToken);

        public Task DeleteObjectAsync(WeightReference reference, CancellationToken cancellationToken = default) =>
            inner.DeleteObjectAsync(reference, cancellationToken);

        public Task DeleteRecordAsync(string runId, string name, CancellationToken cancellationToken = default) =>
            inner.DeleteRecordAsync(runId, name, cancellationToken);
    }
}
