using System.Diagnostics;
using Grid.Cluster.Tests.Infrastructure;

namespace Grid.Cluster.Tests.Configuration;

/// <summary>
/// Real `grid silo`, `grid submit`, `grid status` and `grid resume` processes given a malformed Azure Storage connection
/// string: each refuses it at once with exit code 2, one error naming the setting, the problem and the fix, no stack
/// trace, and none of the string's secret text. (The Azure SDK's parser used to throw a message quoting the string,
/// account key included, and the process ended in a raw stack trace.)
/// </summary>
public sealed class MalformedConnectionStringTests(ITestOutputHelper log) : IAsyncDisposable
{
    private const string Key = "c2VjcmV0LWtleS10aGF0LW11c3Qtbm90LWxlYWs=";
    private static readonly TimeSpan Quickly = TimeSpan.FromSeconds(20);
    private readonly string _workFolder = Directory.CreateTempSubdirectory("grid-connection-string-").FullName;
    private readonly List<GridProcess> _processes = [];

    /// <summary>Case name, the connection string, and a part of what the refusal must say.</summary>
    private static readonly (string Name, string ConnectionString, string Problem)[] Cases =
    [
        ("typo", "DefaultEndpointsProtocol=https;AccountName=gridtest;AccountKey:" + Key + ";EndpointSuffix=core.windows.net",
            "segment 3 is not key=value: it begins with AccountKey and then ':' where '=' belongs"),
        ("empty", "", "needs AzureStorageConnectionString"),
        ("garbage", "garbage", "segment 1 is not key=value"),
        ("no account name", "DefaultEndpointsProtocol=https;AccountKey=" + Key, "AccountName is missing"),
        ("development storage maybe", "UseDevelopmentStorage=maybe", "UseDevelopmentStorage must be true"),
        ("key not base64", "DefaultEndpointsProtocol=https;AccountName=gridtest;AccountKey=" + Key + "*not-base64*",
            "AccountKey is not base64"),
        ("100 KB", "DefaultEndpointsProtocol=https;AccountName=gridtest;AccountKey=" + Key + new string('Q', 100 * 1024),
            "a connection string has at most 4096"),
    ];

    /// <summary>Command name and its arguments.</summary>
    private static readonly (string Name, string Arguments)[] Commands =
    [
        ("silo", "silo --cluster azure --storage azure --metrics-port 0"),
        ("submit", "submit --preset smoke --cluster azure --storage azure"),
    ];

    /// <summary>Every case with every command; the connection string is looked up by case name (it is 100 KB long).</summary>
    public static TheoryData<string, string> CasesByCommand =>
        new(Commands.SelectMany(command => Cases.Select(c => (command.Name, c.Name))));

    [Theory]
    [MemberData(nameof(CasesByCommand))]
    public async Task A_malformed_connection_string_is_refused_at_once_without_a_stack_trace_or_the_key(string command, string name)
    {
        string arguments = Commands.Single(c => c.Name == command).Arguments;
        var (_, connectionString, problem) = Cases.Single(c => c.Name == name);

        var output = await RefuseAsync($"{command}, {name}", new() { ["GRID_AZURE_STORAGE"] = connectionString }, arguments);

        Assert.Contains(problem, output);
        if (connectionString.Length > 0)
        {
            Assert.DoesNotContain(connectionString, output);
        }
    }

    [Theory]
    [InlineData("silo --cluster azure --storage azure --metrics-port 0")]
    [InlineData("submit --preset smoke --cluster localhost --storage azure")]
    [InlineData("status some-run --cluster azure")]
    [InlineData("resume some-run --cluster azure --storage azure")]
    public async Task The_long_environment_variable_is_checked_like_the_short_one_by_every_command_that_reads_it(string arguments)
    {
        string typo = "DefaultEndpointsProtocol=https;AccountName=gridtest;AccountKey:" + Key;

        var output = await RefuseAsync(arguments, new() { ["GRID__AZURESTORAGECONNECTIONSTRING"] = typo }, arguments);

        Assert.Contains("segment 3 is not key=value", output);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }

        Directory.Delete(_workFolder, recursive: true);
    }

    /// <summary>
    /// Runs grid with <paramref name="arguments"/>; asserts the refusal (exit 2 within <see cref="Quickly"/>, the setting
    /// and its sources named, no stack trace, no key text) and returns the output with line wrapping undone.
    /// </summary>
    private async Task<string> RefuseAsync(string label, Dictionary<string, string?> environment, string arguments)
    {
        var clock = Stopwatch.StartNew();
        var process = GridProcess.Start(label, _workFolder, environment,
            arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        _processes.Add(process);

        int exit = await process.WaitForExitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        log.WriteLine($"{label}: exit {exit} after {clock.Elapsed.TotalSeconds:F2} s");
        string raw = process.Output;
        Assert.True(exit == 2, $"{label}: exit {exit}\n{raw}");
        Assert.True(clock.Elapsed < Quickly, $"{label}: took {clock.Elapsed.TotalSeconds:F1} s\n{raw}");
        Assert.DoesNotContain("   at ", raw);
        Assert.DoesNotContain("Unhandled exception", raw);
        Assert.DoesNotContain(Key, raw);
        Assert.DoesNotContain(Key[..12], raw);
        Assert.DoesNotContain("QQQQQQQQ", raw);
        Assert.DoesNotContain("not-base64", raw);
        string output = string.Join(" ", raw.Split((char[])['\n', '\r', ' '], StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error:", output);
        Assert.Contains("AzureStorageConnectionString", output);
        Assert.Contains("GRID_AZURE_STORAGE", output);
        return output;
    }
}
