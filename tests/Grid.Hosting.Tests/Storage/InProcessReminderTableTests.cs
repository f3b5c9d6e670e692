using Grid.Hosting.Storage;

namespace Grid.Hosting.Tests.Storage;

/// <summary>The reminder table that the silos of one process share: what Orleans' reminder service asks of any table.</summary>
public sealed class InProcessReminderTableTests
{
    private static readonly GrainId A = GrainId.Create("controller", "run-a");
    private static readonly GrainId B = GrainId.Create("controller", "run-b");

    [Fact]
    public async Task Rows_outlive_the_table_object_that_wrote_them_and_an_etag_guards_their_removal()
    {
        var store = new InProcessGrainStore();
        var written = new InProcessReminderTable(store); // one silo's table
        string? etag = await written.UpsertRow(Row(A, "keep-alive"));
        await written.UpsertRow(Row(B, "keep-alive"));

        var survivor = new InProcessReminderTable(store); // another silo's, after the first died
        var row = await survivor.ReadRow(A, "keep-alive");
        Assert.NotNull(row);
        Assert.Equal(etag, row.ETag);
        Assert.Equal(TimeSpan.FromSeconds(5), row.Period);
        Assert.Single((await survivor.ReadRows(A)).Reminders);

        Assert.False(await survivor.RemoveRow(A, "keep-alive", "stale"));
        Assert.True(await survivor.RemoveRow(A, "keep-alive", etag!));
        Assert.Null(await survivor.ReadRow(A, "keep-alive"));
        Assert.Single((await survivor.ReadRows(0, uint.MaxValue)).Reminders);
    }

    [Fact]
    public async Task A_hash_range_takes_rows_above_its_start_up_to_its_end_and_wraps_around_the_ring()
    {
        var table = new InProcessReminderTable(new InProcessGrainStore());
        await table.UpsertRow(Row(A, "r"));
        uint hash = A.GetUniformHashCode();

        Assert.Single((await table.ReadRows(hash - 1, hash)).Reminders); // (begin, end]: the end is in
        Assert.Empty((await table.ReadRows(hash, hash + 1)).Reminders); // the start is not
        Assert.Single((await table.ReadRows(hash + 1, hash)).Reminders); // begin >= end wraps around and takes it
        Assert.Empty((await table.ReadRows(hash, hash - 1)).Reminders); // everything but (hash - 1, hash]
    }

    private static ReminderEntry Row(GrainId grain, string name) => new()
    {
        GrainId = grain,
        ReminderName = name,
        StartAt = DateTime.UtcNow,
        Period = TimeSpan.FromSeconds(5),
    };
}
