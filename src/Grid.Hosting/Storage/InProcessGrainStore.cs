using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Orleans.Serialization;
using Orleans.Storage;

namespace Grid.Hosting.Storage;

/// <summary>
/// Grain state for a cluster whose silos all live in this process (the embedded <c>grid train</c>, the benchmarks,
/// in-process test clusters): deep copies of the states, with ETags, in one table that every silo given this store
/// shares, as the silos of a real cluster share Azure Table. A silo that dies or stops leaves its grains' state to
/// the survivors. Given a folder, every state is also written there (one file per state, replaced atomically), so a
/// process killed mid-run leaves what a new process needs to resume it, as Azure Table does for a cluster; without
/// one nothing outlives the process. Orleans' own memory storage instead spreads the states over storage
/// grains on the silos, which costs a grain call per write and loses the states a dying silo held; it stays the
/// choice for memory storage across processes.
/// </summary>
public sealed class InProcessGrainStore
{
    private const string StateExtension = ".state";
    private readonly ConcurrentDictionary<StateKey, StoredState> _states = new();
    private readonly ConcurrentDictionary<string, StrongBox<long>> _writes = new(StringComparer.Ordinal);
    private long _lastETag;

    /// <summary>States in memory only: they die with the process.</summary>
    public InProcessGrainStore()
    {
    }

    /// <summary>
    /// States in memory and in <paramref name="folder"/> (created if missing); states already there, from a process
    /// that stopped, are read on first use, and new ETags continue after theirs.
    /// </summary>
    public InProcessGrainStore(string folder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        Folder = Path.GetFullPath(folder);
        Directory.CreateDirectory(Folder);
        Span<byte> etag = stackalloc byte[sizeof(long)];
        foreach (string file in Directory.EnumerateFiles(Folder))
        {
            if (!file.EndsWith(StateExtension, StringComparison.Ordinal))
            {
                File.Delete(file); // a replacement the killed process did not finish; the state it replaced is intact
                continue;
            }

            using var stream = File.OpenRead(file);
            if (stream.Length < sizeof(long))
            {
                throw new InvalidDataException($"Grain state file {file} is shorter than its header ({stream.Length} bytes).");
            }

            stream.ReadExactly(etag);
            _lastETag = Math.Max(_lastETag, BinaryPrimitives.ReadInt64LittleEndian(etag));
        }
    }

    /// <summary>Where states are kept beside memory; null when they live in memory only.</summary>
    public string? Folder { get; }

    /// <summary>Reminder rows (grain, name) of <see cref="InProcessReminderTable"/>, shared like the states.</summary>
    internal ConcurrentDictionary<(GrainId Grain, string Name), ReminderEntry> Reminders { get; } = new();

    /// <summary>States stored now, over every provider and grain.</summary>
    public int Count => _states.Count;

    /// <summary>Writes accepted so far of states named <paramref name="stateName"/>, over every provider and grain.</summary>
    public long Writes(string stateName) => _writes.TryGetValue(stateName, out var count) ? Interlocked.Read(ref count.Value) : 0;

    internal bool TryRead(StateKey key, out StoredState state) => _states.TryGetValue(key, out state!);

    /// <summary>
    /// The state of <paramref name="key"/> as a stopped process left it in <see cref="Folder"/>: its ETag and serialized
    /// bytes, or null when there is none. The caller deserializes it and hands it to <see cref="Adopt"/>.
    /// </summary>
    internal (string ETag, byte[] Payload)? ReadPersisted(StateKey key)
    {
        if (Folder is null || !File.Exists(FileOf(key)))
        {
            return null;
        }

        byte[] bytes = File.ReadAllBytes(FileOf(key));
        if (bytes.Length < sizeof(long))
        {
            throw new InvalidDataException($"Grain state {key} in {FileOf(key)} is shorter than its header ({bytes.Length} bytes).");
        }

        long etag = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        return (etag.ToString(CultureInfo.InvariantCulture), bytes[sizeof(long)..]);
    }

    /// <summary>Takes a state read back from <see cref="Folder"/> into memory (the first reader wins).</summary>
    internal StoredState Adopt(StateKey key, string etag, object state) => _states.GetOrAdd(key, new StoredState(etag, state));

    /// <summary>
    /// Stores <paramref name="state"/> if the stored ETag is <paramref name="expectedETag"/> (null: none stored); with a
    /// <see cref="Folder"/>, also its <paramref name="serialized"/> bytes, on disk before in memory, so a failed write
    /// (a full disk) changes neither.
    /// </summary>
    internal string Write(StateKey key, string? expectedETag, object state, Func<byte[]>? serialized = null)
    {
        var written = new StoredState(NextETag(), state);
        StoredState? stored = null;
        if (expectedETag is null ? _states.ContainsKey(key)
            : !_states.TryGetValue(key, out stored) || stored.ETag != expectedETag)
        {
            throw Conflict(key, expectedETag);
        }

        if (Folder is not null && serialized is not null)
        {
            Persist(key, written.ETag, serialized());
        }

        if (stored is null ? !_states.TryAdd(key, written) : !_states.TryUpdate(key, written, stored))
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

        if (Folder is not null)
        {
            File.Delete(FileOf(key));
        }
    }

    /// <summary>Replaces the state's file: the new bytes go to a temporary file first, so a kill leaves the old or the new.</summary>
    private void Persist(StateKey key, string etag, byte[] payload)
    {
        string target = FileOf(key);
        string temp = target + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            Span<byte> header = stackalloc byte[sizeof(long)];
            BinaryPrimitives.WriteInt64LittleEndian(header, long.Parse(etag, CultureInfo.InvariantCulture));
            stream.Write(header);
            stream.Write(payload);
        }

        File.Move(temp, target, overwrite: true);
    }

    /// <summary>The file of a state: its key hashed, since grain ids hold characters a file name may not.</summary>
    private string FileOf(StateKey key) =>
        Path.Combine(Folder!, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key.ToString()))) + StateExtension);

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
/// storage refuses it. Given a serializer and a store with a folder, states also go to (and come back from) disk in
/// Orleans' binary format.
/// </summary>
public sealed class InProcessGrainStorage(string name, string serviceId, InProcessGrainStore store, DeepCopier copier,
    Serializer? serializer = null) : IGrainStorage
{
    private readonly string _provider = $"{serviceId}/{name}";

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = Key(stateName, grainId);
        if (!store.TryRead(key, out var stored) && serializer is not null && store.ReadPersisted(key) is { } persisted)
        {
            stored = store.Adopt(key, persisted.ETag, serializer.Deserialize<T>(persisted.Payload)!);
        }

        if (stored is not null)
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
        var copy = copier.Copy(grainState.State)!;
        grainState.ETag = store.Write(Key(stateName, grainId), grainState.ETag, copy,
            serializer is null ? null : () => serializer.SerializeToArray(copy));
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
