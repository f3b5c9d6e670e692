using Grid.Hosting.Configuration;

namespace Grid.Hosting.Tests.Configuration;

public sealed class GridSiloOptionsTests
{
    private const string Secret = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0LWtleQ==";

    [Fact]
    public void ToString_never_prints_the_connection_string()
    {
        var options = new GridSiloOptions { Storage = StorageMode.Azure, AzureStorageConnectionString = Secret };

        string text = options.ToString();

        Assert.DoesNotContain("c2VjcmV0LWtleQ", text);
        Assert.DoesNotContain("AccountName", text);
        Assert.Contains("AzureStorageConnectionString = <redacted>", text);
        Assert.DoesNotContain("c2VjcmV0LWtleQ", new GridClientOptions { AzureStorageConnectionString = Secret }.ToString());
    }

    [Fact]
    public void Validation_lists_every_problem_with_its_value_and_the_fix()
    {
        var options = new GridSiloOptions
        {
            Cluster = ClusterMode.Azure,
            GpuDevices = -1,
            SiloPort = 30000,
            GatewayPort = 30000,
            PrimarySiloPort = 11111,
        };

        var error = Assert.Throws<GridConfigurationException>(() => options.Validate());

        Assert.Contains("needs AzureStorageConnectionString", error.Message);
        Assert.Contains("GpuDevices is -1; use 0 (no GPU) to 64", error.Message);
        Assert.Contains("SiloPort and GatewayPort are both 30000", error.Message);
        Assert.Contains("PrimarySiloPort is 11111 but Cluster is Azure", error.Message);
    }

    [Fact]
    public void The_defaults_are_a_valid_embedded_silo()
    {
        var options = new GridSiloOptions().Validate();

        Assert.Equal((ClusterMode.Localhost, StorageMode.Memory), (options.Cluster, options.Storage));
    }

    [Fact]
    public void Unknown_cluster_and_storage_names_are_refused_with_the_allowed_values()
    {
        Assert.Equal(ClusterMode.Azure, GridSiloOptions.ParseCluster("Azure"));
        Assert.Contains("use localhost or azure", Assert.Throws<GridConfigurationException>(
            () => GridSiloOptions.ParseCluster("k8s")).Message);
        Assert.Contains("use memory or azure", Assert.Throws<GridConfigurationException>(
            () => GridSiloOptions.ParseStorage("disk")).Message);
    }
}
