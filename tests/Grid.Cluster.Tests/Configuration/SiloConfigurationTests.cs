using Grid.Cluster.Tests.Infrastructure;

namespace Grid.Cluster.Tests.Configuration;

/// <summary>`grid silo` validates its settings once, says what is wrong and how to fix it, and never prints a secret.</summary>
public sealed class SiloConfigurationTests : IAsyncDisposable
{
    private const string SecretKey = "c2VjcmV0LWtleS10aGF0LW11c3Qtbm90LWxlYWs=";
    private readonly string _workFolder = Directory.CreateTempSubdirectory("grid-silo-config-").FullName;
    private readonly List<GridProcess> _processes = [];

    [Fact]
    public async Task An_azure_cluster_without_a_connection_string_is_refused_naming_the_setting_and_the_fix()
    {
        var silo = Start([], "silo", "--cluster", "azure", "--storage", "azure", "--metrics-port", "0");

        Assert.Equal(2, await silo.WaitForExitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken));
        string output = Flat(silo.Output);
        Assert.Contains("AzureStorageConnectionString", output);
        Assert.Contains("GRID_AZURE_STORAGE", output);
        Assert.Contains("--cluster localhost --storage memory", output);
        Assert.DoesNotContain("grid silo ready", output);
    }

    [Fact]
    public async Task A_refused_configuration_does_not_print_the_connection_string_it_was_given()
    {
        var environment = new Dictionary<string, string?>
        {
            ["GRID_AZURE_STORAGE"] = $"DefaultEndpointsProtocol=http;AccountName=gridtest;AccountKey={SecretKey};",
        };
        var silo = Start(environment, "silo", "--cluster", "azure", "--storage", "azure",
            "--silo-port", "40001", "--gateway-port", "40001", "--metrics-port", "0");

        Assert.Equal(2, await silo.WaitForExitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken));
        Assert.Contains("SiloPort and GatewayPort are both 40001", Flat(silo.Output));
        Assert.DoesNotContain(SecretKey, silo.Output);
        Assert.DoesNotContain("AccountName=gridtest", silo.Output);
    }

    [Fact]
    public async Task Settings_from_a_settings_file_and_the_environment_are_validated_like_flags()
    {
        string file = Path.Combine(_workFolder, "grid.json");
        await File.WriteAllTextAsync(file, """{ "Grid": { "GpuDevices": -1 } }""", TestContext.Current.CancellationToken);
        var silo = Start(new Dictionary<string, string?> { ["GRID__CLUSTERID"] = "bad id" },
            "silo", "--settings", file, "--metrics-port", "0");

        Assert.Equal(2, await silo.WaitForExitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken));
        string output = Flat(silo.Output);
        Assert.Contains("GpuDevices is -1", output);
        Assert.Contains("ClusterId is 'bad id'", output);
    }

    [Theory]
    [InlineData("--role", "gpu", "--role is 'gpu'; use rollout, learner or both")]
    [InlineData("--role", "learner", "Role is learner but the silo declares no GPU (GpuDevices, --gpu N)")]
    public async Task A_bad_role_is_refused_naming_the_value_and_what_is_allowed(string flag, string value, string expected)
    {
        var silo = Start([], "silo", flag, value, "--metrics-port", "0");

        Assert.Equal(2, await silo.WaitForExitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken));
        string output = Flat(silo.Output);
        Assert.Contains(expected, output);
        Assert.DoesNotContain("grid silo ready", output);
    }

    [Fact]
    public async Task A_role_from_a_settings_file_is_checked_like_the_flag()
    {
        string file = Path.Combine(_workFolder, "role.json");
        await File.WriteAllTextAsync(file, """{ "Grid": { "Role": "trainer" } }""", TestContext.Current.CancellationToken);
        var silo = Start([], "silo", "--settings", file, "--metrics-port", "0");

        Assert.Equal(2, await silo.WaitForExitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken));
        Assert.Contains("Grid:Role (--role) is 'trainer'; use rollout, learner or both", Flat(silo.Output));
    }

    [Fact]
    public async Task A_role_spelled_in_lower_case_in_a_settings_file_starts_a_silo_of_that_role()
    {
        string file = Path.Combine(_workFolder, "rollout.json");
        await File.WriteAllTextAsync(file, """{ "Grid": { "Role": "rollout" } }""", TestContext.Current.CancellationToken);
        var silo = Start([], "silo", "--settings", file, "--cluster-id", "role-" + Guid.NewGuid().ToString("N")[..8],
            "--silo-port", GridProcess.FreeLoopbackPort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--gateway-port", GridProcess.FreeLoopbackPort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--metrics-port", "0");

        await silo.WaitForOutputAsync("grid silo ready", TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        Assert.Contains("Role = rollout", Flat(silo.Output));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }

        Directory.Delete(_workFolder, recursive: true);
    }

    /// <summary>The console wraps long lines; compare text, not layout.</summary>
    private static string Flat(string output) => string.Join(" ", output.Split((char[])['\n', '\r', ' '],
        StringSplitOptions.RemoveEmptyEntries));

    private GridProcess Start(Dictionary<string, string?> environment, params string[] arguments)
    {
        var process = GridProcess.Start("silo", _workFolder, environment, arguments);
        _processes.Add(process);
        return process;
    }
}
