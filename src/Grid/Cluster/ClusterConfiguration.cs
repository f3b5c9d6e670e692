using Grid.Core.Files;
using Grid.Core.Settings;
using Grid.Hosting.Configuration;
using Microsoft.Extensions.Configuration;

namespace Grid.Cli.Cluster;

/// <summary>
/// Where cluster settings come from, lowest precedence first: <c>appsettings.json</c> next to the binary, the
/// <c>--settings</c> file, environment variables (<c>GRID__CLUSTER</c>, <c>GRID__AZURESTORAGECONNECTIONSTRING</c>, ...,
/// and the short alias <c>GRID_AZURE_STORAGE</c> for the connection string), then command-line flags. Everything sits
/// under the section <c>Grid</c> with the property names of <see cref="GridSiloOptions"/>.
/// </summary>
internal static class ClusterConfiguration
{
    public const string Section = "Grid";

    /// <summary>Short environment variable for the Azure Storage connection string (never printed).</summary>
    public const string ConnectionStringVariable = "GRID_AZURE_STORAGE";

    /// <summary>A --settings file larger than this is refused unread (a sparse or wrong file would be read whole).</summary>
    public const long MaxSettingsFileBytes = 1 << 20;

    public static IConfiguration Build(string? settingsFile, IReadOnlyDictionary<string, string?> flags)
    {
        if (settingsFile is not null && InputFile.Refusal(settingsFile) is { } why)
        {
            throw new GridConfigurationException(
                $"--settings file '{InvalidSettingException.Format(settingsFile)[1..^1]}' is {why}; give the path of a JSON file with a \"Grid\" section.");
        }

        if (settingsFile is not null && File.Exists(settingsFile) && new FileInfo(settingsFile).Length > MaxSettingsFileBytes)
        {
            throw new GridConfigurationException($"--settings file '{settingsFile}' has {new FileInfo(settingsFile).Length} "
                + $"bytes; a settings file holds at most {MaxSettingsFileBytes} (a \"Grid\" section of a few keys). Pass the right file.");
        }

        if (settingsFile is not null && !File.Exists(settingsFile))
        {
            throw new GridConfigurationException(
                $"--settings file '{settingsFile}' does not exist; give the path of a JSON file with a \"Grid\" section.");
        }

        var builder = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true);
        if (settingsFile is not null)
        {
            builder.AddJsonFile(Path.GetFullPath(settingsFile), optional: false);
        }

        var alias = Environment.GetEnvironmentVariable(ConnectionStringVariable);
        if (!string.IsNullOrWhiteSpace(alias))
        {
            builder.AddInMemoryCollection([new($"{Section}:{nameof(GridSiloOptions.AzureStorageConnectionString)}", alias)]);
        }

        builder.AddEnvironmentVariables();
        builder.AddInMemoryCollection(flags.Where(f => f.Value is not null)
            .Select(f => new KeyValuePair<string, string?>($"{Section}:{f.Key}", f.Value)));
        try
        {
            return builder.Build();
        }
        catch (InvalidDataException e)
        {
            // "Failed to load configuration from file" alone does not say what is wrong; the cause does (bad JSON, a
            // key given twice).
            throw new GridConfigurationException(
                $"{e.Message} {e.InnerException?.Message} Fix the file: one JSON object with a \"Grid\" section, each key once.");
        }
    }

    /// <summary>Binds the <c>Grid</c> section into silo options (not yet validated).</summary>
    public static GridSiloOptions BindSilo(IConfiguration configuration)
    {
        var section = configuration.GetSection(Section);
        // The binder would take "1" for a role and refuse "trainer" without saying what is allowed.
        if (section[nameof(GridSiloOptions.Role)] is { } role)
        {
            GridSiloRoles.Parse(role, $"{Section}:{nameof(GridSiloOptions.Role)} (--role)");
        }

        try
        {
            return section.Get<GridSiloOptions>() ?? new GridSiloOptions();
        }
        catch (InvalidOperationException e)
        {
            // The binder names the key and the value it could not convert; the connection string is a plain string,
            // so it never appears here.
            throw new GridConfigurationException($"Invalid Grid setting: {e.Message}");
        }
    }

    /// <summary>Validates once; a refusal also says where each setting can be given.</summary>
    public static GridSiloOptions Validated(GridSiloOptions options)
    {
        try
        {
            return options.Validate();
        }
        catch (GridConfigurationException e)
        {
            throw new GridConfigurationException(e.Message + Environment.NewLine + SourcesHint);
        }
    }

    /// <summary>Where settings come from, for error messages.</summary>
    public const string SourcesHint =
        "Settings come from appsettings.json (section \"Grid\"), --settings FILE, environment variables GRID__<Key> "
        + "(e.g. GRID__CLUSTER=azure) and flags. The connection string: environment variable " + ConnectionStringVariable
        + " or GRID__AZURESTORAGECONNECTIONSTRING (never a flag, so it stays out of shell history and process lists). Mutual TLS: "
        + "--tls-cert, --tls-key, --tls-ca or GRID__TLS__CERTIFICATE, GRID__TLS__KEY, GRID__TLS__CERTIFICATEAUTHORITY; a "
        + "password only as GRID__TLS__PASSWORD.";

    /// <summary>The client's view of the same settings: cluster mode, ids, connection string, gateway ports.</summary>
    public static GridClientOptions BindClient(IConfiguration configuration, IReadOnlyList<int> gatewayPorts)
    {
        var silo = BindSilo(configuration);
        var client = new GridClientOptions
        {
            Cluster = silo.Cluster,
            ClusterId = silo.ClusterId,
            ServiceId = silo.ServiceId,
            AzureStorageConnectionString = silo.AzureStorageConnectionString,
            GatewayPorts = gatewayPorts.Count > 0 ? gatewayPorts : [silo.GatewayPort],
            Tls = silo.Tls,
        };
        try
        {
            if (silo.Storage == StorageMode.Azure && silo.Cluster != ClusterMode.Azure)
            {
                // The client builds the weight store from the same string (grid submit, resume, experiment).
                string? refusal = string.IsNullOrWhiteSpace(silo.AzureStorageConnectionString)
                    ? "Storage=azure needs AzureStorageConnectionString, the account that holds the weights (the same "
                        + "one the silos use), or use --storage memory."
                    : StorageConnectionString.Refusal(silo.AzureStorageConnectionString);
                if (refusal is not null)
                {
                    throw new GridConfigurationException("Invalid Grid client settings:" + Environment.NewLine + "  - " + refusal);
                }
            }

            return client.Validate();
        }
        catch (GridConfigurationException e)
        {
            throw new GridConfigurationException(e.Message + Environment.NewLine + SourcesHint);
        }
    }
}
