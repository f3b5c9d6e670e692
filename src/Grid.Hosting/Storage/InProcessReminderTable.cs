using System.Collections.Concurrent;

namespace Grid.Hosting.Storage;

/// <summary>
/// Orleans reminders for a cluster whose silos all live in this process, kept beside the grain states of an
/// <see cref="InProcessGrainStore"/>: every silo given the store shares one table, so a reminder outlives the silo that
/// registered it, as it does in Azure Table. Orleans' own in-memory reminder table lives in a grain on one silo and
/// dies with it, taking every reminder along.
/// </summary>
public sealed class InProcessReminderTable(InProcessGrainStore store) : IReminderTable
{
    private ConcurrentDictionary<(GrainId Grain, string Name), ReminderEntry> Rows => store.Reminders;

    public Task Init() => Task.CompletedTask;

    public Task<ReminderTableData> ReadRows(GrainId grainId) =>
        Task.FromResult(new ReminderTableData(Rows.Values.Where(r => r.GrainId == grainId).Select(Copy)));

    /// <summary>Rows whose grain hash is in (begin, end]; when begin >= end, the range wraps around the ring.</summary>
    public Task<ReminderTableData> ReadRows(uint begin, uint end) =>
        Task.FromResult(new ReminderTableData(Rows.Values.Where(r => InRange(r.GrainId.GetUniformHashCode(), begin, end)).Select(Copy)));

    public Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName) =>
        Task.FromResult<ReminderEntry?>(Rows.TryGetValue((grainId, reminderName), out var row) ? Copy(row) : null);

    public Task<string?> UpsertRow(ReminderEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var row = Copy(entry);
        row.ETag = store.NextETag();
        Rows[(entry.GrainId, entry.ReminderName)] = row;
        return Task.FromResult<string?>(row.ETag);
    }

    public Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag)
    {
        var key = (grainId, reminderName);
        return Task.FromResult(Rows.TryGetValue(key, out var row) && row.ETag == eTag
            && Rows.TryRemove(new KeyValuePair<(GrainId, string), ReminderEntry>(key, row)));
    }

    public Task TestOnlyClearTable()
    {
        Rows.Clear();
        return Task.CompletedTask;
    }

    internal static bool InRange(uint hash, uint begin, uint end) =>
        begin < end ? hash > begin && hash <= end : hash > begin || hash <= end;

    private static ReminderEntry Copy(ReminderEntry row) => new()
    {
        GrainId = row.GrainId,
        ReminderName = row.ReminderName,
        StartAt = row.StartAt,
        Period = row.Period,
        ETag = row.ETag,
    };
}
