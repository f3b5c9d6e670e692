using Grid.Hosting.Configuration;

namespace Grid.Hosting.Tests.Configuration;

/// <summary>
/// The connection string check that runs before any Azure object is built: usable strings pass, malformed ones are
/// refused with the problem and the fix, and no refusal holds the account key or any other value that may be secret.
/// </summary>
public sealed class StorageConnectionStringTests
{
    private const string Key = "c2VjcmV0LWtleS10aGF0LW11c3Qtbm90LWxlYWs=";

    /// <summary>Azurite's published development account key (not a secret).</summary>
    private const string DevelopmentKey =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    public static TheoryData<string> Usable =>
    [
        "UseDevelopmentStorage=true",
        "UseDevelopmentStorage=true;",
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + DevelopmentKey + ";"
            + "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
            + "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;",
        "DefaultEndpointsProtocol=https;AccountName=gridtest;AccountKey=" + Key + ";EndpointSuffix=core.windows.net",
        "AccountName=gridtest;AccountKey=" + Key,
        "BlobEndpoint=https://gridtest.blob.core.windows.net/;TableEndpoint=https://gridtest.table.core.windows.net/;"
            + "SharedAccessSignature=sv=2022-11-02&ss=bt&srt=sco&sp=rwdlacu&se=2030-01-01T00:00:00Z&sig=abc%2Bdef%3D",
    ];

    /// <summary>A malformed string and a part of what the refusal must say.</summary>
    public static TheoryData<string, string> Malformed => new()
    {
        { "DefaultEndpointsProtocol=https;AccountName=gridtest;AccountKey:" + Key + ";EndpointSuffix=core.windows.net",
            "segment 3 is not key=value: it begins with AccountKey and then ':' where '=' belongs" },
        { "DefaultEndpointsProtocol=https;AccountName=gridtest;AccountKey" + Key, "segment 3 has a key that is not a connection string setting" },
        { "garbage", "segment 1 is not key=value (it has no '=')" },
        { ";;;", "it has no key=value segment" },
        { "AccountKey=" + Key, "AccountName is missing" },
        { "DefaultEndpointsProtocol=https;AccountName=gridtest;EndpointSuffix=core.windows.net", "AccountKey is missing" },
        { "UseDevelopmentStorage=maybe", "UseDevelopmentStorage must be true" },
        { "UseDevelopmentStorage=true;AccountName=gridtest;AccountKey=" + Key, "UseDevelopmentStorage=true takes no AccountName, AccountKey" },
        { "AccountName=gridtest;AccountKey=not*base64!" + Key, "AccountKey is not base64" },
        { "AccountName=gridtest;AccountKey=" + Key[..^3], "AccountKey is not base64" },
        { "AccountName=gridtest;AccountKey=", "AccountKey is empty" },
        { "AccountName=gridtest;AccountKey=" + Key + ";AccountKey=" + Key, "AccountKey is given twice" },
        { "AccountName=Grid_Test;AccountKey=" + Key, "AccountName is not 3 to 24 lowercase letters and digits" },
        { "DefaultEndpointsProtocol=ftp;AccountName=gridtest;AccountKey=" + Key, "DefaultEndpointsProtocol must be https or http" },
        { "AccountName=gridtest;AccountKey=" + Key + ";BlobEndpoint=127.0.0.1:10000", "BlobEndpoint is not an absolute http or https URL" },
        { "AccountName=gridtest;AccountKey=" + Key + ";SharedAccessSignature=sig" + Key, "AccountKey and SharedAccessSignature are both given" },
        { "AccountName=gridtest;AccountKey=" + Key + ";Password=" + Key, "segment 3 has the unknown key 'Password' (value not shown)" },
        { "AccountName=gridtest;AccountKey=" + Key + ";" + Key, "segment 3 has a key that is not a connection string setting" },
        { "AccountName=gridtest;AccountKey=" + new string('A', 100 * 1024), "characters long; a connection string has at most 4096" },
        { "=" + Key, "segment 1 has no key before its '='" },
    };

    [Theory]
    [MemberData(nameof(Usable))]
    public void A_usable_connection_string_passes_and_the_options_carrying_it_validate(string connectionString)
    {
        Assert.Null(StorageConnectionString.Problem(connectionString));
        Assert.Null(StorageConnectionString.Refusal(connectionString));
        new GridSiloOptions
        {
            Cluster = ClusterMode.Azure,
            Storage = StorageMode.Azure,
            AzureStorageConnectionString = connectionString,
        }.Validate();
        new GridClientOptions { Cluster = ClusterMode.Azure, AzureStorageConnectionString = connectionString }.Validate();
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public void A_malformed_connection_string_is_refused_with_the_problem_and_the_fix_and_without_its_values(
        string connectionString, string problem)
    {
        var silo = Assert.Throws<GridConfigurationException>(() => new GridSiloOptions
        {
            Cluster = ClusterMode.Azure,
            Storage = StorageMode.Azure,
            AzureStorageConnectionString = connectionString,
        }.Validate());
        var client = Assert.Throws<GridConfigurationException>(() =>
            new GridClientOptions { Cluster = ClusterMode.Azure, AzureStorageConnectionString = connectionString }.Validate());

        foreach (string message in new[] { silo.Message, client.Message })
        {
            Assert.Contains("AzureStorageConnectionString is not a usable connection string", message);
            Assert.Contains(problem, message);
            Assert.Contains("UseDevelopmentStorage=true", message); // the fix
            Assert.DoesNotContain(Key, message);
            Assert.DoesNotContain(Key[..12], message);
            Assert.DoesNotContain("not*base64", message);
            Assert.DoesNotContain("AAAAAAAAAAAA", message);
            Assert.DoesNotContain("gridtest", message);
            Assert.DoesNotContain("Grid_Test", message);
            Assert.DoesNotContain("127.0.0.1:10000", message);
        }
    }

    [Fact]
    public void A_malformed_string_is_only_checked_where_azure_is_used()
    {
        var options = new GridSiloOptions
        {
            Cluster = ClusterMode.Localhost,
            Storage = StorageMode.Memory,
            AzureStorageConnectionString = "garbage",
        };

        Assert.Same(options, options.Validate());
        Assert.Contains("segment 1 is not key=value", Assert.Throws<GridConfigurationException>(
            () => (options with { Storage = StorageMode.Azure }).Validate()).Message);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void An_empty_string_is_reported_as_empty(string? connectionString) =>
        Assert.Equal("it is empty.", StorageConnectionString.Problem(connectionString));
}
