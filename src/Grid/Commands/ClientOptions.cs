using System.CommandLine;
using Grid.Cli.Cluster;
using Grid.Hosting.Configuration;
using Microsoft.Extensions.Configuration;

namespace Grid.Cli.Commands;

/// <summary>How a client command (submit, status, resume) reaches the cluster: the cluster options plus gateways.</summary>
internal sealed class ClientOptions
{
    public ClusterCommandOptions Cluster { get; } = new();

    public Option<int[]> Gateways { get; } = new("--gateway")
    {
        Description = "Localhost clustering: a silo's gateway port (repeat for several; default Grid:GatewayPort, 30000).",
        AllowMultipleArgumentsPerToken = true,
    };

    public void AddTo(Command command)
    {
        Cluster.AddTo(command);
        command.Options.Add(Gateways);
    }

    public (IConfiguration Configuration, GridClientOptions Client) Load(ParseResult parse)
    {
        var configuration = Cluster.Configuration(parse);
        return (configuration, ClusterConfiguration.BindClient(configuration, parse.GetValue(Gateways) ?? []));
    }
}
