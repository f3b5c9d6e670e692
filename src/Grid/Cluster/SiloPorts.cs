using System.Net;
using System.Net.Sockets;
using Grid.Hosting.Configuration;

namespace Grid.Cli.Cluster;

/// <summary>
/// Refuses a silo whose ports another process already listens on, before it joins the cluster. Orleans would take a
/// second silo on a used silo port for a restart of the silo there and declare the running one dead; a used gateway
/// port would have two processes listening on one port.
/// </summary>
internal static class SiloPorts
{
    public static void EnsureFree(GridSiloOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var address = options.AdvertisedAddress is { } advertised ? IPAddress.Parse(advertised) : IPAddress.Any;
        // A listen port is bound on every address; the advertised port may then belong to whatever is in front.
        if (options.SiloListenPort is { } siloListen)
        {
            EnsureFree(IPAddress.Any, siloListen, "silo listen port", "--silo-listen-port", "Grid:SiloListenPort");
        }
        else
        {
            EnsureFree(address, options.SiloPort, "silo port", "--silo-port", "Grid:SiloPort");
        }

        if (options.GatewayListenPort is { } gatewayListen)
        {
            EnsureFree(IPAddress.Any, gatewayListen, "gateway listen port", "--gateway-listen-port", "Grid:GatewayListenPort");
        }
        else if (options.GatewayPort is > 0 and var gateway)
        {
            EnsureFree(address, gateway, "gateway port", "--gateway-port", "Grid:GatewayPort");
        }
    }

    private static void EnsureFree(IPAddress address, int port, string what, string flag, string key)
    {
        // Any address conflicts with a listener on any one of them; a specific address also with a wildcard listener.
        foreach (var probe in address.Equals(IPAddress.Any) ? new[] { IPAddress.Any } : [address, IPAddress.Any])
        {
            using var socket = new Socket(probe.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(probe, port));
                socket.Listen();
            }
            catch (SocketException error) when (error.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AccessDenied)
            {
                throw new GridConfigurationException(
                    $"The {what} {port} is already in use on this machine ({(error.SocketErrorCode == SocketError.AccessDenied ? "not allowed for this user" : "another process listens on it, perhaps a grid silo")}). "
                    + $"A second silo on a used port would take the running silo's place; give this one a free port "
                    + $"with {flag} (key {key}).");
            }
        }
    }
}
