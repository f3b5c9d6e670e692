using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Grid.TestSupport;

/// <summary>
/// One Azurite process for tests: installs the pinned Azurite from infra/azurite (npm ci, once per checkout, under a
/// file lock so parallel test projects do not collide), starts it on free ports of loopback (or of a test network node's
/// address, under that node's launcher), waits until it accepts connections and kills it on dispose. <see cref="StopAsync"/> / <see cref="StartAsync"/> take it down and bring it
/// back on the same ports and data folder, for "storage unreachable for 10 s" scenarios.
/// It depends on nothing but the BCL.
/// </summary>
public sealed class AzuriteServer : IAsyncDisposable
{
    /// <summary>The well-known development account key Azurite accepts (public, not a secret).</summary>
    private const string AccountKey =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private static readonly TimeSpan InstallTimeout = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly string _azuriteDirectory;
    private readonly bool _ownsDataFolder;
    private readonly StringBuilder _output = new();
    private readonly IReadOnlyList<string> _launcher;
    private Process? _process;

    private AzuriteServer(string azuriteDirectory, string? dataFolder, bool inMemory, IPAddress address, IReadOnlyList<string> launcher)
    {
        _azuriteDirectory = azuriteDirectory;
        Address = address;
        _launcher = launcher;
        InMemory = inMemory;
        _ownsDataFolder = dataFolder is null && !inMemory;
        DataFolder = inMemory
            ? null
            : dataFolder ?? Directory.CreateTempSubdirectory("grid-azurite-").FullName;
        BlobPort = FreePort();
        QueuePort = FreePort();
        TablePort = FreePort();
    }

    /// <summary>The address Azurite listens on and clients reach it at (127.0.0.1 unless started on a test network node).</summary>
    public IPAddress Address { get; }

    /// <summary>Blob service port on <see cref="Address"/>.</summary>
    public int BlobPort { get; }

    /// <summary>Queue service port on <see cref="Address"/>.</summary>
    public int QueuePort { get; }

    /// <summary>Table service port on <see cref="Address"/>.</summary>
    public int TablePort { get; }

    /// <summary>Where Azurite keeps its data (survives <see cref="StopAsync"/>); null with in-memory persistence.</summary>
    public string? DataFolder { get; }

    /// <summary>True when started with --inMemoryPersistence (data is lost on stop).</summary>
    public bool InMemory { get; }

    /// <summary>True while the process runs.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Connection string of the development account with explicit endpoints on <see cref="Address"/>.</summary>
    public string ConnectionString =>
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        + $"AccountKey={AccountKey};"
        + $"BlobEndpoint=http://{Address}:{BlobPort}/devstoreaccount1;"
        + $"QueueEndpoint=http://{Address}:{QueuePort}/devstoreaccount1;"
        + $"TableEndpoint=http://{Address}:{TablePort}/devstoreaccount1;";

    /// <summary>
    /// Installs Azurite if needed and starts it. <paramref name="dataFolder"/>: keep data there (default: a temp
    /// folder deleted on dispose); <paramref name="inMemory"/>: keep nothing on disk. <paramref name="address"/> and
    /// <paramref name="launcher"/> put it on a node of a test network: it listens on that node's address, and node runs
    /// under the launcher (say <c>ip netns exec NODE</c>), which must exec it so that killing the launcher's process
    /// kills Azurite.
    /// </summary>
    public static async Task<AzuriteServer> StartNewAsync(string? dataFolder = null, bool inMemory = false,
        IPAddress? address = null, IReadOnlyList<string>? launcher = null)
    {
        string directory = FindAzuriteDirectory();
        await EnsureInstalledAsync(directory).ConfigureAwait(false);
        var server = new AzuriteServer(directory, dataFolder, inMemory, address ?? IPAddress.Loopback, launcher ?? []);
        try
        {
            await server.StartAsync().ConfigureAwait(false);
            return server;
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Starts (or restarts) Azurite on this server's ports and data folder; returns once it accepts connections.</summary>
    public async Task StartAsync()
    {
        if (IsRunning)
        {
            return;
        }

        string script = Path.Combine(_azuriteDirectory, "node_modules", "azurite", "dist", "src", "azurite.js");
        string host = Address.ToString();
        var start = new ProcessStartInfo(_launcher.Count > 0 ? _launcher[0] : "node")
        {
            WorkingDirectory = _azuriteDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in _launcher.Skip(1).Concat(_launcher.Count > 0 ? ["node"] : []).Concat(
        [
            script, "--silent", "--skipApiVersionCheck", "--disableTelemetry",
            "--blobHost", host, "--blobPort", BlobPort.ToString(),
            "--queueHost", host, "--queuePort", QueuePort.ToString(),
            "--tableHost", host, "--tablePort", TablePort.ToString(),
        ]))
        {
            start.ArgumentList.Add(argument);
        }

        if (InMemory)
        {
            start.ArgumentList.Add("--inMemoryPersistence");
        }
        else
        {
            start.ArgumentList.Add("--location");
            start.ArgumentList.Add(DataFolder!);
        }

        lock (_output)
        {
            _output.Clear();
        }

        var process = Process.Start(start)
            ?? throw new InvalidOperationException("Could not start node; install Node.js 20+ and put node on PATH.");
        process.OutputDataReceived += (_, line) => Remember(line.Data);
        process.ErrorDataReceived += (_, line) => Remember(line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        var deadline = Stopwatch.StartNew();
        while (!(await AcceptsAsync(BlobPort).ConfigureAwait(false)
            && await AcceptsAsync(QueuePort).ConfigureAwait(false)
            && await AcceptsAsync(TablePort).ConfigureAwait(false)))
        {
            if (process.HasExited || deadline.Elapsed > StartTimeout)
            {
                string output;
                lock (_output)
                {
                    output = _output.ToString();
                }

                await KillAsync().ConfigureAwait(false);
                throw new InvalidOperationException(
                    $"Azurite did not accept connections on {Address}:{BlobPort}/{QueuePort}/{TablePort} within "
                    + $"{StartTimeout.TotalSeconds:F0} s (exited: {process.HasExited}). Its output:{Environment.NewLine}"
                    + output);
            }

            await Task.Delay(100).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Takes Azurite down, keeping ports and data folder for <see cref="StartAsync"/>: SIGTERM first, so it saves its
    /// database (Azurite writes metadata such as containers lazily; a SIGKILL loses what it had not saved yet), then
    /// SIGKILL if it is still up after 10 s. Use <see cref="KillAsync"/> for a crash.
    /// </summary>
    public async Task StopAsync()
    {
        var process = _process;
        if (process is null)
        {
            return;
        }

        if (!process.HasExited && (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()))
        {
            _ = SendSignal(process.Id, Sigterm);
            try
            {
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // fall through to the kill
            }
        }

        await KillAsync().ConfigureAwait(false);
    }

    /// <summary>Kills the process at once, like a crash; writes Azurite had not saved yet are lost.</summary>
    public async Task KillAsync()
    {
        var process = _process;
        _process = null;
        if (process is null)
        {
            return;
        }

        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        finally
        {
            process.Dispose();
        }
    }

    /// <summary>Kills Azurite and deletes the temp data folder it created.</summary>
    public async ValueTask DisposeAsync()
    {
        await KillAsync().ConfigureAwait(false);
        if (_ownsDataFolder && DataFolder is not null && Directory.Exists(DataFolder))
        {
            try
            {
                Directory.Delete(DataFolder, recursive: true);
            }
            catch (IOException)
            {
                // a file still held open by the dying process: the temp folder is cleaned up by the OS later
            }
        }
    }

    private const int Sigterm = 15;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);

    private void Remember(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    /// <summary>infra/azurite of this checkout: GRID_AZURITE_DIR, else found by walking up from the test binaries.</summary>
    private static string FindAzuriteDirectory()
    {
        if (Environment.GetEnvironmentVariable("GRID_AZURITE_DIR") is { Length: > 0 } configured)
        {
            return Path.GetFullPath(configured);
        }

        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            string candidate = Path.Combine(folder.FullName, "infra", "azurite");
            if (File.Exists(Path.Combine(candidate, "package.json")))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException(
            $"No infra/azurite/package.json above {AppContext.BaseDirectory}; run the tests from a Grid checkout or "
            + "set GRID_AZURITE_DIR to the folder holding Azurite's package.json.");
    }

    /// <summary>Runs npm ci once; a lock file serialises test projects starting at the same time.</summary>
    private static async Task EnsureInstalledAsync(string directory)
    {
        string marker = Path.Combine(directory, "node_modules", "azurite", "dist", "src", "azurite.js");
        if (File.Exists(marker))
        {
            return;
        }

        string lockPath = Path.Combine(directory, ".npm-ci.lock");
        var waited = Stopwatch.StartNew();
        FileStream? held = null;
        while (held is null)
        {
            try
            {
                held = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (waited.Elapsed < InstallTimeout)
            {
                await Task.Delay(250).ConfigureAwait(false);
            }
        }

        await using (held)
        {
            if (File.Exists(marker))
            {
                return; // another test project installed it while we waited
            }

            var npm = new ProcessStartInfo("npm")
            {
                WorkingDirectory = directory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string argument in new[] { "ci", "--no-audit", "--no-fund" })
            {
                npm.ArgumentList.Add(argument);
            }

            using var process = Process.Start(npm)
                ?? throw new InvalidOperationException("Could not start npm; install Node.js 20+ with npm.");
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(InstallTimeout).ConfigureAwait(false);
            if (process.ExitCode != 0 || !File.Exists(marker))
            {
                throw new InvalidOperationException(
                    $"'npm ci' in {directory} failed with exit code {process.ExitCode}; Azurite is not installed. "
                    + $"Check network access to the npm registry. Output:{Environment.NewLine}"
                    + await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false));
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private async Task<bool> AcceptsAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(Address, port).WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            return true;
        }
        catch (Exception error) when (error is SocketException or TimeoutException)
        {
            return false;
        }
    }
}
