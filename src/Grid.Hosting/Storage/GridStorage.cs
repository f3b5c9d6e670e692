namespace Grid.Hosting.Storage;

/// <summary>
/// Names of Grid's grain storage providers. Use them in <c>[PersistentState("state", GridStorage.Grain)]</c>.
/// Persisted types are written with the Orleans binary serializer, so give them <c>[GenerateSerializer]</c>,
/// <c>[Alias("grid.…")]</c> and <c>[Id(n)]</c> on members; the alias and ids are the stored format, keep them stable.
/// </summary>
public static class GridStorage
{
    /// <summary>
    /// Small grain state (controller, prompt groups): Azure Table in cluster mode, at most ~960 KiB serialized per
    /// grain; memory in embedded mode.
    /// </summary>
    public const string Grain = "grid";

    /// <summary>Large grain state (beyond the table limit): Azure Blob in cluster mode; memory in embedded mode.</summary>
    public const string LargeGrain = "grid-blob";

    /// <summary>The shortest period a durable reminder may have on a Grid silo (Orleans' default is a minute).</summary>
    public static readonly TimeSpan MinimumReminderPeriod = TimeSpan.FromSeconds(5);
}
