using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using Orleans.Serialization;
using Orleans.Storage;

namespace Grid.Hosting.Storage;

/// <summary>
/// Grain state for a cluster whose silos all live in this process (the embedded <c>grid train</c>, the benchmarks,
/// in-process test clusters): deep copies of the states, with ETags, in one table that every silo given this store
/// shares, as the silos of a real cluster share Azure Table. A silo that dies or stops leaves its grains' state to
/// the survivors; nothing outlives the process. Orleans' own memory storage instead spreads the states over storage
/// grains on the silos, which costs a grain call per write and loses the states a dying silo held; it stays the
/// choice for memory storage across processes.
/// </summary>
public sealed class InProcessGrainStore
{
    private readonly ConcurrentDictionary<StateKey, StoredState> _states = new();
    private readonly ConcurrentDictionary<string, StrongBox<long>> _writes = new(StringComparer.Ordinal);
    private long _lastETag;

    /// <summary>Reminder rows (grain, name) of <see cref="InProcessReminderTable"/>, shared like the states.</summary>
    internal ConcurrentDictionary<(GrainId Grain, string Name), ReminderEntry> Reminders { get; } = new();

    /// <summary>States stored now, over every provider and grain.</summary>
    public int Count => _states.Count;

    /// <summary>Writes accepted so far of states named <paramref name="stateName"/>, over every provider and grain.</summary>
    public long Writes(string stateName) => _writes.TryGetValue(stateName, out var count) ? Interlocked.Read(ref count.Value) : 0;

    internal bool TryRead(StateKey key, out StoredState state) => _states.TryGetValue(key, out state!);

    /// <summary>Stores <paramref name="state"/> if the stored ETag is <paramref name="expectedETag"/> (null: none stored).</summary>
    internal string Write(StateKey key, string? expectedETag, object state)
    {
        var written = new StoredState(NextETag(), state);
        if (expectedETag is null)
        {
            if (!_states.TryAdd(key, written))
            {
                throw Conflict(key, expectedETag);
            }
        }
        else if (!_states.TryGetValue(key, out var stored) || stored.ETag != expectedETag || !_states.TryUpdate(key, written, stored))
        {
            throw Conflict(key, expectedETag);
        }

        Interlocked.Increment(ref _writes.GetOrAdd(key.StateName, _ => new StrongBox<long>()).Value);
        return written.ETag;
    }

    internal void Clear(StateKey key, string? expectedETag)
    {
        if (!_states.TryGetValue(key, out var stored))
        {
            return;
        }

        if (stored.ETag != expectedETag || !_states.TryRemove(new KeyValuePair<StateKey, StoredState>(key, stored)))
        {
            throw Conflict(key, expectedETag);
        }
    }

    internal string NextETag() => Interlocked.Increment(ref _lastETag).ToString(CultureInfo.InvariantCulture);

    private InconsistentStateException Conflict(StateKey key, string? expectedETag)
    {
        string stored = _states.TryGetValue(key, out var state) ? state.ETag : "none";
        return new InconsistentStateException(
            $"Grain state {key} was written by another activation: it has ETag {stored}, this activation expected "
            + $"{expectedETag ?? "none"}. Only one activation of a grain may write its state.", stored, expectedETag ?? "none");
    }

    /// <summary>Where a state lives: the provider (service id and provider name), the state's name, and the grain.</summary>
    internal readonly record struct StateKey(string Provider, string StateName, GrainId GrainId)
    {
        public override string ToString() => $"{Provider}/{StateName}/{GrainId}";
    }

    internal sealed record StoredState(string ETag, object State);
}

/// <summary>
/// One named grain storage provider of one service over an <see cref="InProcessGrainStore"/>. States are deep-copied
/// with Orleans' copiers on the way in and out, as a grain call within a silo copies its arguments: the grain and the
/// store never share a mutable object, and the parts a type declares [Immutable] (a prompt group's assignment and
/// scored rollouts) are shared instead of copied. A type without generated serializers is refused, as Azure's
/// storage refuses it.
/// </summary>
public sealed class InProcessGrainStorage(string name, string serviceId, InProcessGrainStore store, DeepCopier copier)
    : IGrainStorage
{
    private readonly string _provider = $"{serviceId}/{name}";

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (store.TryRead(Key(stateName, grainId), out var stored))
        {
            grainState.State = copier.Copy((T)stored.State);
            grainState.ETag = stored.ETag;
            grainState.RecordExists = true;
        }
        else
        {
            grainState.State = Activator.CreateInstance<T>();
            grainState.ETag = null;
            grainState.RecordExists = false;
        }

        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        grainState.ETag = store.Write(Key(stateName, grainId), grainState.ETag, copier.Copy(grainState.State)!);
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        store.Clear(Key(stateName, grainId), grainState.ETag);
        grainState.State = Activator.CreateInstance<T>();
        grainState.ETag = null;
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }

    private InProcessGrainStore.StateKey Key(string stateName, GrainId grainId) => new(_provider, stateName, grainId);
}
