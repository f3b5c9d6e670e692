using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Grid.Telemetry.Tests.Support;

/// <summary>The real Prometheus binaries, and free loopback ports to run them on.</summary>
public static class Tools
{
    /// <summary>The tool's full path; fails the test (never skips) when it is not installed.</summary>
    public static string Require(string tool)
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, tool))
            .FirstOrDefault(File.Exists);
        if (found is null)
        {
            Assert.Fail($"'{tool}' is not on PATH. Install Prometheus 2.42+ with " +
                "`apt-get update && apt-get install -y prometheus` (bash infra/test.sh does it for you).");
        }

        return found;
    }

    /// <summary>Runs a tool to completion and returns its exit code with stdout and stderr together.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(Require(tool))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepoPaths.Root,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        return (process.ExitCode, await stdout + await stderr);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
