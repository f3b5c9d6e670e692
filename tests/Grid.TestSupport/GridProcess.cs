using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace Grid.TestSupport;

/// <summary>
/// One `dotnet grid.dll ...` child process with its output captured. Disposing kills it and its children; every
/// process still alive when the test host exits is killed too, so a failed or aborted test leaves nothing behind.
/// </summary>
public sealed class GridProcess : IAsyncDisposable
{
    private static readonly ConcurrentDictionary<int, Process> Alive = new();
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly int _id;
    private bool _disposed;

    static GridProcess() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (var process in Alive.Values)
        {
            TryKill(process);
        }
    };

    private GridProcess(string name, Process process)
    {
        Name = name;
        _process = process;
        _id = process.Id;
    }

    public string Name { get; }

    /// <summary>The grid executable built beside this test project (same configuration).</summary>
    public static string GridDll
    {
        get
        {
            string path = typeof(GridProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .Single(a => a.Key == "GridDll").Value!;
            return File.Exists(path)
                ? path
                : throw new FileNotFoundException($"grid.dll is not at {path}; build src/Grid in the same configuration.");
        }
    }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Everything the process wrote so far (stdout and stderr, interleaved by line).</summary>
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

    public static GridProcess Start(string name, string workingDirectory, IReadOnlyDictionary<string, string?> environment,
        params string[] arguments) => StartUnder([], name, workingDirectory, environment, arguments);

    /// <summary>
    /// Starts <c>dotnet grid.dll ARGUMENTS</c> under <paramref name="launcher"/> (say <c>ip netns exec NODE</c>, to run it
    /// on a node of a test network). The launcher must exec the command, so that this process is grid's and killing
    /// it kills grid.
    /// </summary>
    public static GridProcess StartUnder(IReadOnlyList<string> launcher, string name, string workingDirectory,
        IReadOnlyDictionary<string, string?> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(launcher.Count > 0 ? launcher[0] : "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string word in launcher.Skip(1).Concat(launcher.Count > 0 ? ["dotnet"] : []))
        {
            start.ArgumentList.Add(word);
        }

        start.ArgumentList.Add(GridDll);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // Nothing leaks in from the developer's shell; the test says exactly what each process sees.
        foreach (string key in start.Environment.Keys.Where(k => k.StartsWith("GRID", StringComparison.Ordinal)).ToArray())
        {
            start.Environment.Remove(key);
        }

        start.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
        start.Environment["NO_COLOR"] = "1";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start dotnet.");
        var grid = new GridProcess(name, process);
        Alive[process.Id] = process;
        process.OutputDataReceived += (_, line) => grid.Remember(line.Data);
        process.ErrorDataReceived += (_, line) => grid.Remember(line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return grid;
    }

    /// <summary>Waits until the output contains <paramref name="text"/>; fails with the output if the process exits first.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited ({_process.ExitCode}) before printing '{text}':\n{Output}");
            }

            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"{Name} did not print '{text}' within {timeout.TotalSeconds:F0} s:\n{Output}");
            }

            await Task.Delay(100, cancellation);
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellation)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        limit.CancelAfter(timeout);
        try
        {
            await _process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw new TimeoutException($"{Name} did not exit within {timeout.TotalSeconds:F0} s:\n{Output}");
        }

        _process.WaitForExit(); // drains the output readers
        Alive.TryRemove(_process.Id, out _);
        return _process.ExitCode;
    }

    /// <summary>
    /// The process's peak resident set so far (VmHWM in /proc; `dotnet grid.dll` runs in the host's own process), or 0
    /// once it has exited. Poll it while the process runs: the high-water mark only grows.
    /// </summary>
    public long PeakRssBytes()
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{_id}/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // exited between the check and the read
        }

        return 0;
    }

    /// <summary>Asks the process to stop the way a service manager does (SIGTERM).</summary>
    public void Terminate()
    {
        if (kill(_process.Id, 15) != 0)
        {
            throw new InvalidOperationException($"kill -TERM {_process.Id} failed ({Marshal.GetLastPInvokeError()}).");
        }
    }

    /// <summary>Sends <paramref name="signal"/> (2 SIGINT, as Ctrl+C; 9 SIGKILL, as kill -9 or the OOM killer; 15 SIGTERM) to the process.</summary>
    public void Signal(int signal)
    {
        if (kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {_process.Id} failed ({Marshal.GetLastPInvokeError()}).");
        }
    }

    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Kills the process and its children (kill -9); safe to call twice.</summary>
    public ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            _disposed = true;
            TryKill(_process);
            Alive.TryRemove(_id, out _);
            _process.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    private void Remember(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    /// <summary>Kills the process and its children if they still run, waiting up to 5 s; one already gone is fine.</summary>
    public static void TryKill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
