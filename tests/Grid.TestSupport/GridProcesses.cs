namespace Grid.TestSupport;

/// <summary>
/// The `grid` processes one test starts, all in one temporary work folder. Disposing stops every process and deletes
/// the folder.
/// </summary>
public sealed class GridProcesses(string folderPrefix) : IAsyncDisposable
{
    private readonly List<GridProcess> _processes = [];

    public string WorkFolder { get; } = Directory.CreateTempSubdirectory(folderPrefix).FullName;

    public IReadOnlyList<GridProcess> All => _processes;

    public GridProcess Start(string name, IReadOnlyDictionary<string, string?> environment, params string[] arguments) =>
        StartUnder([], name, environment, arguments);

    /// <summary>Starts grid under <paramref name="launcher"/> (see <see cref="GridProcess.StartUnder"/>).</summary>
    public GridProcess StartUnder(IReadOnlyList<string> launcher, string name, IReadOnlyDictionary<string, string?> environment,
        params string[] arguments)
    {
        var process = GridProcess.StartUnder(launcher, name, WorkFolder, environment, arguments);
        _processes.Add(process);
        return process;
    }

    /// <summary>The output of the processes whose name contains <paramref name="nameContains"/> (all when null), for failure messages.</summary>
    public string Logs(string? nameContains = null) => string.Join("\n", _processes
        .Where(p => nameContains is null || p.Name.Contains(nameContains, StringComparison.Ordinal))
        .Select(p => $"--- {p.Name} ---\n{p.Output}"));

    /// <summary>Stops every process (kill -9) and keeps the folder, say to unmount a file system inside it first.</summary>
    public async ValueTask DisposeProcessesAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await DisposeProcessesAsync();

        try
        {
            Directory.Delete(WorkFolder, recursive: true);
        }
        catch (IOException)
        {
            // a process still held a file; the temp folder is the OS's to clean
        }
    }
}
