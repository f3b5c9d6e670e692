using System.Text.Json;
using Grid.Core;

namespace Grid.Hosting.Weights;

/// <summary>
/// Learner checkpoints in a weight store, one per published version: the optimizer state is written as a new
/// immutable object first, then the version's <see cref="LearnerCheckpoint"/> record names it (the record is the
/// pointer; switching it is one atomic write). Loading checks every sha256 and, when the newest checkpoint is damaged
/// or missing, falls back to the newest good one, saying what it refused. Old checkpoints are thinned
/// (<see cref="PruneAsync"/>): optimizer state is about twice the weights, for every version.
/// </summary>
public sealed class LearnerCheckpointStore(IWeightStore store)
{
    /// <summary>The object kind of optimizer state in the store.</summary>
    public const string OptimizerKind = "optimizer";

    /// <summary>
    /// The newest checkpoints always kept whole: the newest, and the one before it, which a resume falls back to when
    /// the newest is damaged.
    /// </summary>
    public const int KeepRecent = 2;

    /// <summary>
    /// Makes <paramref name="weights"/> (already published) a full checkpoint with <paramref name="optimizerState"/>.
    /// Call it before anyone is told about the weights: a run only records versions whose checkpoint is complete.
    /// </summary>
    public async Task<LearnerCheckpoint> SaveAsync(string runId, WeightReference weights, byte[] optimizerState,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var optimizer = await WriteOptimizerStateAsync(runId, weights.Version, optimizerState, cancellationToken).ConfigureAwait(false);
        return await CommitAsync(runId, weights, optimizer, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The first half of <see cref="SaveAsync"/>: stores the optimizer state of <paramref name="version"/> as a new
    /// object, which no record names yet. It may be written while the version's weights are being published.
    /// </summary>
    public async Task<OptimizerStateReference> WriteOptimizerStateAsync(string runId, long version, byte[] optimizerState,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(optimizerState);
        using var content = new MemoryStream(optimizerState, writable: false);
        var stored = await store.WriteObjectAsync(runId, version, OptimizerKind, content, cancellationToken).ConfigureAwait(false);
        return new OptimizerStateReference(stored, optimizerState.LongLength);
    }

    /// <summary>
    /// The second half of <see cref="SaveAsync"/>: once both are stored, the record naming the weights and the optimizer
    /// state makes them the version's checkpoint.
    /// </summary>
    public async Task<LearnerCheckpoint> CommitAsync(string runId, WeightReference weights, OptimizerStateReference optimizer,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(optimizer);
        if (optimizer.State.Version != weights.Version)
        {
            throw new ArgumentException(
                $"The optimizer state is of version {optimizer.State.Version}, the weights of version {weights.Version}.", nameof(optimizer));
        }

        var checkpoint = new LearnerCheckpoint(runId, weights.Version, weights, optimizer.State, optimizer.Length,
            DateTimeOffset.UtcNow);
        await store.WriteRecordAsync(runId, LearnerCheckpoint.RecordName(weights.Version), checkpoint.ToRecord(),
            cancellationToken).ConfigureAwait(false);
        return checkpoint;
    }

    /// <summary>The checkpoint record of a version, hash-checked; null when there is none.</summary>
    public async Task<LearnerCheckpoint?> ReadAsync(string runId, long version, CancellationToken cancellationToken = default)
    {
        string name = LearnerCheckpoint.RecordName(version);
        byte[]? record = await store.ReadRecordAsync(runId, name, cancellationToken).ConfigureAwait(false);
        return record is null ? null : LearnerCheckpoint.Parse(record, $"'{name}' of run '{runId}'");
    }

    /// <summary>
    /// After version <paramref name="saved"/> was checkpointed: deletes the checkpoint (record first, then its optimizer
    /// state and, unless <paramref name="keepWeights"/>, its weights, so no record names a missing object) of the version
    /// that just left the window of the newest <see cref="KeepRecent"/> + <paramref name="maxStaleness"/> versions,
    /// unless it is a multiple of <paramref name="keepEvery"/> (the run's checkpoint_every). Nothing reads such weights
    /// again: rollouts sample a version at most <paramref name="maxStaleness"/> (the run's rollouts.max_staleness) behind
    /// the step being learned, the learner's reference is version 0 (never pruned), and a resume starts from a kept
    /// checkpoint. Returns the version pruned, if any.
    /// </summary>
    public async Task<long?> PruneAsync(string runId, long saved, int keepEvery, bool keepWeights = false,
        int maxStaleness = 0, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxStaleness);
        long version = saved - KeepRecent - maxStaleness;
        if (version <= 0 || (keepEvery > 0 && version % keepEvery == 0))
        {
            return null;
        }

        LearnerCheckpoint? checkpoint;
        try
        {
            checkpoint = await ReadAsync(runId, version, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (error is InvalidDataException or JsonException)
        {
            checkpoint = null; // damaged: drop the record; its object, if any, cannot be named
        }

        await store.DeleteRecordAsync(runId, LearnerCheckpoint.RecordName(version), cancellationToken).ConfigureAwait(false);
        if (checkpoint?.Optimizer is { } optimizer)
        {
            await store.DeleteObjectAsync(optimizer, cancellationToken).ConfigureAwait(false);
        }

        if (!keepWeights && checkpoint is not null)
        {
            await store.DeleteObjectAsync(checkpoint.Weights, cancellationToken).ConfigureAwait(false);
        }

        return version;
    }

    /// <summary>
    /// The newest good state at or below <paramref name="current"/> (the version the run recorded): its checkpoint
    /// when every hash checks, else the previous version's, and so on down to <paramref name="initial"/> (version 0,
    /// fresh optimizer). The recorded version without any checkpoint record (a run from before optimizer checkpoints)
    /// resumes from its weights with a fresh optimizer; older versions without a record were pruned and are skipped.
    /// Storage outages are not refusals: they propagate.
    /// </summary>
    public async Task<RestoredLearnerState> LoadAsync(string runId, WeightReference initial, WeightReference current,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(initial);
        ArgumentNullException.ThrowIfNull(current);
        var refused = new List<string>();
        for (long version = current.Version; version > 0; version--)
        {
            try
            {
                var checkpoint = await ReadAsync(runId, version, cancellationToken).ConfigureAwait(false);
                if (checkpoint is null)
                {
                    if (version == current.Version)
                    {
                        byte[] weights = await store.ReadAsync(current, cancellationToken).ConfigureAwait(false);
                        return new RestoredLearnerState(current, weights, null, null, refused);
                    }

                    continue; // thinned out by PruneAsync: not a refusal
                }

                if (version == current.Version && checkpoint.Weights != current)
                {
                    throw new InvalidDataException(
                        $"Checkpoint record '{LearnerCheckpoint.RecordName(version)}' names weights {checkpoint.Weights.Uri} "
                        + $"(sha256 {checkpoint.Weights.Sha256}), but the run recorded {current.Uri} (sha256 "
                        + $"{current.Sha256}); its optimizer state does not belong to the run's weights.");
                }

                byte[] bytes = await store.ReadAsync(checkpoint.Weights, cancellationToken).ConfigureAwait(false);
                byte[]? optimizer = checkpoint.Optimizer is null
                    ? null
                    : await store.ReadAsync(checkpoint.Optimizer, cancellationToken).ConfigureAwait(false);
                return new RestoredLearnerState(checkpoint.Weights, bytes, checkpoint, optimizer, refused);
            }
            catch (Exception error) when (error is InvalidDataException or WeightIntegrityException
                or FileNotFoundException or JsonException)
            {
                refused.Add($"version {version}: {error.Message}");
            }
        }

        byte[] initialBytes = await store.ReadAsync(initial, cancellationToken).ConfigureAwait(false);
        return new RestoredLearnerState(initial, initialBytes, null, null, refused);
    }
}

/// <summary>Optimizer state stored by <see cref="LearnerCheckpointStore.WriteOptimizerStateAsync"/>, not yet committed.</summary>
public sealed record OptimizerStateReference(WeightReference State, long Length);
