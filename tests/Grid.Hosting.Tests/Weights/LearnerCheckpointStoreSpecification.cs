using System.Security.Cryptography;
using Grid.Core;
using Grid.Hosting.Weights;

namespace Grid.Hosting.Tests.Weights;

/// <summary>
/// What learner checkpoints must do on every <see cref="IWeightStore"/>: round-trip hash-checked, refuse damaged parts
/// by their hash and fall back to the newest good checkpoint, and never let a reader see a record that names a missing
/// or half-written object. One subclass per store.
/// </summary>
public abstract class LearnerCheckpointStoreSpecification
{
    protected abstract IWeightStore Store { get; }

    /// <summary>Cuts an object to its first half, as a crashed copy or a full disk would.</summary>
    protected abstract Task TruncateAsync(WeightReference reference);

    /// <summary>Cuts a run's record to its first half.</summary>
    protected abstract Task TruncateRecordAsync(string runId, string name);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Versions 0..<paramref name="versions"/>: weights for each, and a checkpoint for each but 0.</summary>
    private async Task<WeightReference[]> CheckpointedRunAsync(string runId, int versions)
    {
        var checkpoints = new LearnerCheckpointStore(Store);
        var weights = new List<WeightReference>();
        for (int version = 0; version <= versions; version++)
        {
            var published = await Store.PublishAsync(runId, version, Bytes(5_000, version), Ct);
            if (version > 0)
            {
                await checkpoints.SaveAsync(runId, published, Bytes(9_000, 100 + version), Ct);
            }

            weights.Add(published);
        }

        return [.. weights];
    }

    [Fact]
    public async Task Optimizer_state_stored_beside_its_weights_is_no_checkpoint_until_committed_and_then_loads_back()
    {
        var checkpoints = new LearnerCheckpointStore(Store);
        var initial = await Store.PublishAsync("ckpt-halves", 0, Bytes(5_000, 0), Ct);
        // The learner stores both halves side by side: the optimizer state may land before the weights it belongs to.
        var state = await checkpoints.WriteOptimizerStateAsync("ckpt-halves", 1, Bytes(9_000, 101), Ct);
        var weights = await Store.PublishAsync("ckpt-halves", 1, Bytes(5_000, 1), Ct);

        Assert.Null(await checkpoints.ReadAsync("ckpt-halves", 1, Ct)); // no record names them yet
        var wrong = await Assert.ThrowsAsync<ArgumentException>(() => checkpoints.CommitAsync("ckpt-halves", initial, state, Ct));
        Assert.Contains("optimizer state is of version 1, the weights of version 0", wrong.Message);

        await checkpoints.CommitAsync("ckpt-halves", weights, state, Ct);
        var restored = await checkpoints.LoadAsync("ckpt-halves", initial, weights, Ct);

        Assert.Equal(weights, restored.Weights);
        Assert.Equal(Bytes(9_000, 101), restored.OptimizerState);
        Assert.Equal(9_000, restored.Checkpoint!.OptimizerBytes);
        Assert.Empty(restored.Refused);
    }

    [Fact]
    public async Task A_checkpoint_loads_back_its_weights_and_optimizer_state_hash_checked()
    {
        var weights = await CheckpointedRunAsync("ckpt-round-trip", 2);

        var restored = await new LearnerCheckpointStore(Store).LoadAsync("ckpt-round-trip", weights[0], weights[2], Ct);

        Assert.Equal(weights[2], restored.Weights);
        Assert.Equal(Bytes(5_000, 2), restored.WeightBytes);
        Assert.Equal(Bytes(9_000, 102), restored.OptimizerState);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Bytes(9_000, 102))), restored.Checkpoint!.Optimizer!.Sha256);
        Assert.Empty(restored.Refused);
        Assert.Contains("resumed at step 2 from weights version 2", restored.Describe());
    }

    [Fact]
    public async Task A_truncated_optimizer_state_is_refused_naming_the_object_and_the_previous_checkpoint_is_used()
    {
        var weights = await CheckpointedRunAsync("ckpt-optimizer", 2);
        var checkpoints = new LearnerCheckpointStore(Store);
        var damaged = (await checkpoints.ReadAsync("ckpt-optimizer", 2, Ct))!.Optimizer!;
        await TruncateAsync(damaged);

        var restored = await checkpoints.LoadAsync("ckpt-optimizer", weights[0], weights[2], Ct);

        Assert.Equal(weights[1], restored.Weights);
        Assert.Equal(Bytes(9_000, 101), restored.OptimizerState);
        string refusal = Assert.Single(restored.Refused);
        Assert.Contains(damaged.Uri.ToString(), refusal);
        Assert.Contains(damaged.Sha256, refusal);
        Assert.Contains("resume from an earlier checkpoint", refusal);
        Assert.Contains("refused newer checkpoint(s): version 2", restored.Describe());
    }

    [Fact]
    public async Task A_truncated_record_or_weights_is_refused_and_with_nothing_good_left_the_run_restarts_from_version_0()
    {
        var weights = await CheckpointedRunAsync("ckpt-all-bad", 2);
        await TruncateRecordAsync("ckpt-all-bad", LearnerCheckpoint.RecordName(2));
        await TruncateAsync(weights[1]);

        var restored = await new LearnerCheckpointStore(Store).LoadAsync("ckpt-all-bad", weights[0], weights[2], Ct);

        Assert.Equal(weights[0], restored.Weights);
        Assert.Null(restored.OptimizerState); // version 0: AdamW's fresh state is the exact state
        Assert.Equal(2, restored.Refused.Count);
        Assert.Contains("'checkpoint-v000000000002' of run 'ckpt-all-bad'", restored.Refused[0]);
        Assert.Contains("truncated or modified", restored.Refused[0]);
        Assert.Contains(weights[1].Uri.ToString(), restored.Refused[1]);
    }

    [Fact]
    public async Task Weights_without_any_checkpoint_record_resume_with_a_fresh_optimizer_and_say_so()
    {
        var initial = await Store.PublishAsync("ckpt-legacy", 0, Bytes(100, 0), Ct);
        var current = await Store.PublishAsync("ckpt-legacy", 4, Bytes(100, 4), Ct);

        var restored = await new LearnerCheckpointStore(Store).LoadAsync("ckpt-legacy", initial, current, Ct);

        Assert.Equal(current, restored.Weights);
        Assert.Null(restored.OptimizerState);
        Assert.Empty(restored.Refused);
        Assert.Contains("a FRESH optimizer", restored.Describe());
    }

    [Fact]
    public async Task Pruning_keeps_the_two_newest_checkpoints_and_every_kth_and_a_resume_skips_the_pruned_ones()
    {
        var checkpoints = new LearnerCheckpointStore(Store);
        var initial = await Store.PublishAsync("ckpt-prune", 0, Bytes(100, 0), Ct);
        var saved = new List<LearnerCheckpoint>();
        var pruned = new List<long?>();
        for (int version = 1; version <= 6; version++)
        {
            var weights = await Store.PublishAsync("ckpt-prune", version, Bytes(100, version), Ct);
            saved.Add(await checkpoints.SaveAsync("ckpt-prune", weights, Bytes(300, 100 + version), Ct));
            pruned.Add(await checkpoints.PruneAsync("ckpt-prune", version, keepEvery: 3, cancellationToken: Ct));
        }

        Assert.Equal([null, null, 1L, 2L, null, 4L], pruned); // 3 is a multiple of 3; 5 and 6 are the newest two
        foreach (long version in new long[] { 1, 2, 4 })
        {
            Assert.Null(await checkpoints.ReadAsync("ckpt-prune", version, Ct));
            await Assert.ThrowsAsync<FileNotFoundException>(() => Store.ReadAsync(saved[(int)version - 1].Optimizer!, Ct));
            await Assert.ThrowsAsync<FileNotFoundException>(() => Store.ReadAsync(saved[(int)version - 1].Weights, Ct));
        }

        // What a resume, the engine and the reference policy read stays: version 0, every 3rd, the newest two.
        Assert.Equal(Bytes(100, 0), await Store.ReadAsync(initial, Ct));
        foreach (long version in new long[] { 3, 5, 6 })
        {
            Assert.Equal(Bytes(100, (int)version), await Store.ReadAsync(saved[(int)version - 1].Weights, Ct));
        }

        // Both recent checkpoints damaged: the resume skips the pruned 4 and lands on 3, naming only real refusals.
        await TruncateAsync(saved[5].Optimizer!);
        await TruncateAsync(saved[4].Weights);
        var restored = await checkpoints.LoadAsync("ckpt-prune", initial, saved[5].Weights, Ct);
        Assert.Equal(3, restored.Weights.Version);
        Assert.Equal(Bytes(300, 103), restored.OptimizerState);
        Assert.Equal(2, restored.Refused.Count);
    }

    [Fact]
    public async Task Pruning_with_keep_all_weights_drops_the_checkpoint_but_keeps_every_version_of_the_weights()
    {
        var checkpoints = new LearnerCheckpointStore(Store);
        var saved = new List<LearnerCheckpoint>();
        await Store.PublishAsync("ckpt-keep", 0, Bytes(100, 0), Ct);
        for (int version = 1; version <= 4; version++)
        {
            var weights = await Store.PublishAsync("ckpt-keep", version, Bytes(100, version), Ct);
            saved.Add(await checkpoints.SaveAsync("ckpt-keep", weights, Bytes(300, 100 + version), Ct));
            await checkpoints.PruneAsync("ckpt-keep", version, keepEvery: 50, keepWeights: true, cancellationToken: Ct);
        }

        Assert.Null(await checkpoints.ReadAsync("ckpt-keep", 1, Ct));
        await Assert.ThrowsAsync<FileNotFoundException>(() => Store.ReadAsync(saved[0].Optimizer!, Ct));
        for (int version = 1; version <= 4; version++)
        {
            Assert.Equal(Bytes(100, version), await Store.ReadAsync(saved[version - 1].Weights, Ct));
        }
    }

    [Fact]
    public async Task A_reader_never_sees_a_pointer_or_record_naming_a_missing_or_partial_object()
    {
        // A writer publishes and checkpoints versions as fast as it can, with objects big enough to take a while;
        // a reader follows every pointer and record it can see and reads what they name, hash-checked.
        const int Versions = 12;
        var checkpoints = new LearnerCheckpointStore(Store);
        var initial = await Store.PublishAsync("ckpt-race", 0, Bytes(1000, 0), Ct);
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            for (int version = 1; version <= Versions; version++)
            {
                var published = await Store.PublishAsync("ckpt-race", version, Bytes(600_000, version), Ct);
                await checkpoints.SaveAsync("ckpt-race", published, Bytes(1_200_000, 100 + version), Ct);
            }
        }, Ct);

        int recordsRead = 0, pointersRead = 0;
        while (!writer.IsCompleted || recordsRead == 0)
        {
            var latest = await Store.GetLatestAsync("ckpt-race", Ct);
            await Store.ReadAsync(latest!, Ct); // throws when the pointer names a missing or partial object
            pointersRead++;
            for (long version = latest!.Version; version >= Math.Max(1, latest.Version - 1); version--)
            {
                if (await checkpoints.ReadAsync("ckpt-race", version, Ct) is { } checkpoint)
                {
                    Assert.Equal(Bytes(1_200_000, 100 + (int)version), await Store.ReadAsync(checkpoint.Optimizer!, Ct));
                    Assert.Equal(Bytes(600_000, (int)version), await Store.ReadAsync(checkpoint.Weights, Ct));
                    recordsRead++;
                }
            }
        }

        await writer;
        var final = await checkpoints.LoadAsync("ckpt-race", initial, (await Store.GetLatestAsync("ckpt-race", Ct))!, Ct);
        Assert.Equal(Versions, final.Weights.Version);
        Assert.Empty(final.Refused);
        Assert.True(pointersRead > 1 && recordsRead > 0, $"{pointersRead} pointers and {recordsRead} records read");
        TestContext.Current.TestOutputHelper?.WriteLine($"{pointersRead} pointers and {recordsRead} records read while writing");
    }

    [Fact]
    public async Task A_record_being_replaced_reads_whole_old_or_whole_new_never_a_mix()
    {
        byte[] small = Bytes(10, 1), large = Bytes(2_000_000, 2);
        await Store.WriteRecordAsync("record-race", "r", small, Ct);
        var writer = Task.Run(async () =>
        {
            for (int i = 0; i < 10; i++)
            {
                await Store.WriteRecordAsync("record-race", "r", i % 2 == 0 ? large : small, Ct);
            }
        }, Ct);

        int reads = 0;
        while (!writer.IsCompleted)
        {
            byte[] read = (await Store.ReadRecordAsync("record-race", "r", Ct))!;
            Assert.True(read.AsSpan().SequenceEqual(small) || read.AsSpan().SequenceEqual(large), $"read {read.Length} bytes");
            reads++;
        }

        await writer;
        Assert.Null(await Store.ReadRecordAsync("record-race", "missing", Ct));
        Assert.True(reads > 0);
    }
}
