using System.Diagnostics;
using System.Net;
using System.Reflection;
using System.Text;

namespace Grid.Cluster.Tests.Infrastructure;

/// <summary>
/// A slow network without tc netem: a tests/Grid.NetDelay process on a node (in its namespace) that listens on
/// endpoints of the node and forwards every connection to a target, holding every chunk for the delay in each direction
/// (a chunk read at t is written at t + delay, so the delay adds latency without capping throughput). A silo behind it
/// listens on other ports (<c>--silo-listen-port</c>, <c>--gateway-listen-port</c>) and advertises the relay's, so every
/// byte other silos and clients send it, and its answers, wait the delay: a round trip through one relay takes twice it.
/// <see cref="SetDelayAsync"/> changes the delay of chunks read from then on, open connections staying open.
/// </summary>
public sealed class DelayRelay : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private DelayRelay(Process process) => _process = process;

    /// <summary>Where tests/Grid.NetDelay is built (same configuration; the test project references it so it is).</summary>
    public static string Dll => typeof(DelayRelay).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "NetDelayDll").Value!;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts the relay on <paramref name="node"/> and waits until every endpoint listens.</summary>
    public static async Task<DelayRelay> StartAsync(Node node, TimeSpan delay, IEnumerable<(IPEndPoint Listen, IPEndPoint Target)> routes,
        CancellationToken cancellation)
    {
        var start = new ProcessStartInfo(node.Launcher[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string word in node.Launcher.Skip(1).Concat(["dotnet", Dll, $"{delay.TotalMilliseconds:F0}"])
            .Concat(routes.Select(r => $"{r.Listen}={r.Target}")))
        {
            start.ArgumentList.Add(word);
        }

        var relay = new DelayRelay(Process.Start(start) ?? throw new InvalidOperationException("could not start Grid.NetDelay"));
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Append(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (relay._output)
            {
                relay._output.AppendLine(line);
            }

            if (line.StartsWith("relaying", StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        }

        relay._process.OutputDataReceived += (_, e) => Append(e.Data);
        relay._process.ErrorDataReceived += (_, e) => Append(e.Data);
        relay._process.BeginOutputReadLine();
        relay._process.BeginErrorReadLine();
        try
        {
            await Task.WhenAny(ready.Task, relay._process.WaitForExitAsync(cancellation)).WaitAsync(TimeSpan.FromSeconds(60), cancellation);
            if (!ready.Task.IsCompleted)
            {
                throw new InvalidOperationException($"Grid.NetDelay on {node} exited before it listened:\n{relay.Output}");
            }
        }
        catch
        {
            await relay.DisposeAsync();
            throw;
        }

        return relay;
    }

    /// <summary>Sets the delay of every chunk the relay reads from now on.</summary>
    public async Task SetDelayAsync(TimeSpan delay)
    {
        await _process.StandardInput.WriteLineAsync($"{delay.TotalMilliseconds:F0}");
        await _process.StandardInput.FlushAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (Exception error) when (error is InvalidOperationException or TimeoutException)
        {
            // gone already
        }

        _process.Dispose();
    }
}
