using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;

namespace Grid.Cluster.Tests.Infrastructure;

/// <summary>
/// A private network of Linux network namespaces for one test: a "switch" namespace holding a bridge, one namespace
/// per node joined to the bridge by a veth pair, and a veth from the host's own namespace into the bridge, so the test
/// (and `grid submit`) reach every node. Addresses come from a /24 of 198.18.0.0/15 (reserved for network benchmarks,
/// never a real network) that no host interface uses; the namespaces have no default route and the bridge no uplink,
/// so nothing leaves the machine. Every name carries the test host's process id and a tag of the run; disposing
/// deletes the namespaces (which takes their interfaces, the bridge and the host's veth with them), and creating a
/// network first deletes namespaces left by test hosts that no longer run (a crashed or killed test run).
/// A partition is the node's switch port set down (<c>ip link set PORT down</c>, not a process kill): the node's
/// packets go nowhere, its TCP connections stay open and silent. A slow network is a <see cref="DelayRelay"/> in front
/// of each silo (user space: this kernel and CI's have no <c>tc netem</c>).
/// </summary>
public sealed class NodeNetwork : IAsyncDisposable
{
    /// <summary>Every namespace of this harness starts with it: gridnet-PID-TAG-NODE.</summary>
    public const string Prefix = "gridnet-";

    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(20);
    private readonly List<Node> _nodes = [];
    private readonly string _tag;
    private readonly string _switch;
    private readonly string _hostLink;
    private readonly Action<string> _log;
    private bool _disposed;

    private NodeNetwork(string tag, string subnet, Action<string> log)
    {
        _tag = tag;
        _log = log;
        Subnet = subnet;
        _switch = $"{Prefix}{Environment.ProcessId}-{tag}-switch";
        _hostLink = $"gn{tag}h";
        HostAddress = IPAddress.Parse($"{subnet}.1");
    }

    /// <summary>The first three octets of the network's /24, say "198.18.57".</summary>
    public string Subnet { get; }

    /// <summary>The host's own address on the bridge (.1): where the test and `grid submit` run.</summary>
    public IPAddress HostAddress { get; }

    public IReadOnlyList<Node> Nodes => _nodes;

    /// <summary>Why namespace tests cannot run here, or null when they can (Linux, root, iproute2's ip and tc).</summary>
    public static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "network namespaces are Linux only";
        }

        if (geteuid() != 0)
        {
            return "creating network namespaces needs root (CI runs the tests as root)";
        }

        foreach (string tool in new[] { "ip", "tc" })
        {
            if (Which(tool) is null)
            {
                return $"'{tool}' is not on PATH; install iproute2 (infra/test.sh does)";
            }
        }

        return null;
    }

    /// <summary>
    /// A network with Azurite on a node of its own, as every cluster test on nodes starts: skips the test when nodes
    /// cannot be made here (<see cref="Unavailable"/>); the network and Azurite are added to <paramref name="owned"/>,
    /// for the test to dispose.
    /// </summary>
    public static async Task<(NodeNetwork Network, AzuriteServer Azurite)> StartWithStorageAsync(Action<string> log, List<IAsyncDisposable> owned)
    {
        string? unavailable = Unavailable();
        Assert.SkipWhen(unavailable is not null, unavailable ?? "");
        var network = await CreateAsync(log);
        owned.Add(network);
        var storageNode = await network.AddNodeAsync("storage");
        var azurite = await AzuriteServer.StartNewAsync(inMemory: false, address: storageNode.Address, launcher: storageNode.Launcher);
        owned.Add(azurite);
        return (network, azurite);
    }

    /// <summary>Deletes stale namespaces of dead test hosts, then builds the switch and the host's link into it.</summary>
    public static async Task<NodeNetwork> CreateAsync(Action<string> log)
    {
        await SweepAsync(log);
        string tag = Guid.NewGuid().ToString("N")[..6];
        var network = new NodeNetwork(tag, await FreeSubnetAsync(), log);
        try
        {
            string sw = network._switch;
            await IpAsync("netns", "add", sw);
            await IpAsync("-n", sw, "link", "set", "lo", "up");
            await IpAsync("-n", sw, "link", "add", "br0", "type", "bridge");
            await IpAsync("-n", sw, "link", "set", "br0", "up");
            await IpAsync("link", "add", network._hostLink, "type", "veth", "peer", "name", "host", "netns", sw);
            await IpAsync("-n", sw, "link", "set", "host", "master", "br0");
            await IpAsync("-n", sw, "link", "set", "host", "up");
            await IpAsync("addr", "add", $"{network.HostAddress}/24", "dev", network._hostLink);
            await IpAsync("link", "set", network._hostLink, "up");
            log($"network {network.Subnet}.0/24: switch {sw}, host {network.HostAddress} on {network._hostLink}");
            return network;
        }
        catch
        {
            await network.DisposeAsync();
            throw;
        }
    }

    /// <summary>A new node: its namespace (loopback up), a veth into the switch and the next address (.10, .11, ...).</summary>
    public async Task<Node> AddNodeAsync(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int index = _nodes.Count;
        var node = new Node(name, $"{Prefix}{Environment.ProcessId}-{_tag}-{name}", IPAddress.Parse($"{Subnet}.{10 + index}"), $"p{index}");
        await IpAsync("netns", "add", node.Namespace);
        _nodes.Add(node); // deleted on dispose from here on
        await IpAsync("-n", node.Namespace, "link", "set", "lo", "up");
        await IpAsync("-n", _switch, "link", "add", node.SwitchPort, "type", "veth", "peer", "name", "eth0", "netns", node.Namespace);
        await IpAsync("-n", _switch, "link", "set", node.SwitchPort, "master", "br0");
        await IpAsync("-n", _switch, "link", "set", node.SwitchPort, "up");
        await IpAsync("-n", node.Namespace, "addr", "add", $"{node.Address}/24", "dev", "eth0");
        await IpAsync("-n", node.Namespace, "link", "set", "eth0", "up");
        return node;
    }

    /// <summary>Cuts the node off: its switch port goes down; its processes keep running and see silence.</summary>
    public Task PartitionAsync(Node node) => IpAsync("-n", _switch, "link", "set", node.SwitchPort, "down");

    /// <summary>Brings the node's switch port back up.</summary>
    public Task HealAsync(Node node) => IpAsync("-n", _switch, "link", "set", node.SwitchPort, "up");

    /// <summary>Deletes every namespace of this network; the veths and the bridge go with them.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (string name in _nodes.Select(n => n.Namespace).Append(_switch))
        {
            await DeleteNamespaceAsync(name, _log);
        }
    }

    /// <summary>Deletes namespaces named with <see cref="Prefix"/> whose test host process is gone.</summary>
    private static async Task SweepAsync(Action<string> log)
    {
        string list = await RunAsync("ip", "netns", "list");
        foreach (string line in list.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string name = line.Split(' ')[0];
            if (!name.StartsWith(Prefix, StringComparison.Ordinal))
            {
                continue;
            }

            string pid = name[Prefix.Length..].Split('-')[0];
            if (!int.TryParse(pid, out int owner) || !Directory.Exists($"/proc/{owner}"))
            {
                log($"deleting stale namespace {name} (its test host {pid} no longer runs)");
                await DeleteNamespaceAsync(name, log);
            }
        }
    }

    private static async Task DeleteNamespaceAsync(string name, Action<string> log)
    {
        try
        {
            await IpAsync("netns", "delete", name);
        }
        catch (InvalidOperationException error)
        {
            log($"could not delete namespace {name}: {error.Message}");
        }
    }

    /// <summary>A /24 of 198.18.0.0/16 that no interface of the host has an address in.</summary>
    private static async Task<string> FreeSubnetAsync()
    {
        string used = await RunAsync("ip", "-4", "-o", "addr", "show");
        var candidates = Enumerable.Range(0, 256).OrderBy(_ => Random.Shared.Next()).Select(x => $"198.18.{x}");
        return candidates.FirstOrDefault(subnet => !used.Contains($" {subnet}.", StringComparison.Ordinal))
            ?? throw new InvalidOperationException("every /24 of 198.18.0.0/16 is in use on this host");
    }

    private static Task<string> IpAsync(params string[] arguments) => RunAsync("ip", arguments);

    private static Task<string> RunAsync(string tool, params string[] arguments) => RunAsync(tool, (IEnumerable<string>)arguments);

    private static async Task<string> RunAsync(string tool, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {tool}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(CommandTimeout);
        string command = $"{tool} {string.Join(' ', start.ArgumentList)}";
        return process.ExitCode == 0
            ? await stdout
            : throw new InvalidOperationException($"'{command}' exited {process.ExitCode}: {(await stderr).Trim()}");
    }

    private static string? Which(string tool) => (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(':', StringSplitOptions.RemoveEmptyEntries).Append("/usr/sbin").Append("/sbin")
        .Select(folder => Path.Combine(folder, tool)).FirstOrDefault(File.Exists);

    [DllImport("libc")]
    private static extern uint geteuid();
}

/// <summary>
/// One node of a <see cref="NodeNetwork"/>: its namespace, its address and the switch port that is its link.
/// </summary>
public sealed record Node(string Name, string Namespace, IPAddress Address, string SwitchPort)
{
    /// <summary>Runs a command on this node: <c>ip netns exec NAMESPACE COMMAND</c> (ip execs the command).</summary>
    public IReadOnlyList<string> Launcher => ["ip", "netns", "exec", Namespace];

    public override string ToString() => $"{Name} ({Address})";
}
