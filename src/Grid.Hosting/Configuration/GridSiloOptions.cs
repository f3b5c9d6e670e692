using System.Text;
using System.Text.RegularExpressions;
using Grid.Hosting.Storage;

namespace Grid.Hosting.Configuration;

/// <summary>
/// Everything a Grid silo needs to join a cluster, in one immutable record. Build it at the edge (command line,
/// configuration), call <see cref="Validate"/> once, and pass it to <c>AddGridSilo</c>. Neither <see cref="ToString"/>
/// nor <see cref="Validate"/> ever prints the storage connection string.
/// </summary>
public sealed partial record GridSiloOptions
{
    /// <summary>How silos find each other.</summary>
    public ClusterMode Cluster { get; init; } = ClusterMode.Localhost;

    /// <summary>Where grain state and weights live.</summary>
    public StorageMode Storage { get; init; } = StorageMode.Memory;

    /// <summary>GPU devices this silo offers to learners (0 = no GPU). Published as silo metadata <c>grid.gpu</c>.</summary>
    public int GpuDevices { get; init; }

    /// <summary>This silo accepts learners of runs that allow CPU training (metadata <c>grid.cpu-learner</c>).</summary>
    public bool AllowCpuLearner { get; init; }

    /// <summary>What this silo does: rollout, learner or both (default). Published as silo metadata <c>grid.role</c>.</summary>
    public GridSiloRole Role { get; init; } = GridSiloRole.Both;

    /// <summary>Port for silo-to-silo traffic.</summary>
    public int SiloPort { get; init; } = 11111;

    /// <summary>Port clients connect to; 0 = this silo runs no gateway.</summary>
    public int GatewayPort { get; init; } = 30000;

    /// <summary>
    /// Localhost clustering only: the silo port of the primary silo to join. Null = this silo is the primary.
    /// </summary>
    public int? PrimarySiloPort { get; init; }

    /// <summary>
    /// Address other silos and clients reach this silo at (an IP). Null: loopback with localhost clustering, this
    /// host's first address with azure clustering.
    /// </summary>
    public string? AdvertisedAddress { get; init; }

    /// <summary>
    /// Port this silo listens on for silo-to-silo traffic, on every address, when it differs from the advertised
    /// <see cref="SiloPort"/> (behind NAT, a container's port mapping or a relay). Null: listen on the advertised port.
    /// Azure clustering only.
    /// </summary>
    public int? SiloListenPort { get; init; }

    /// <summary>Like <see cref="SiloListenPort"/> for the gateway: the port clients' traffic arrives on. Null: the advertised <see cref="GatewayPort"/>.</summary>
    public int? GatewayListenPort { get; init; }

    /// <summary>Silos and clients with the same cluster id form one cluster.</summary>
    public string ClusterId { get; init; } = "grid";

    /// <summary>Stable across deployments: grain state is keyed by it.</summary>
    public string ServiceId { get; init; } = "grid";

    /// <summary>Azure Storage (or Azurite) connection string; required when clustering or storage is azure.</summary>
    public string? AzureStorageConnectionString { get; init; }

    /// <summary>
    /// Storage=memory, every silo of the cluster in this process (the embedded grid, benchmarks, in-process test
    /// clusters): the silos given the same store share grain state through it, with no grain call per write, and a
    /// silo that dies leaves its grains' state to the others. Null: Orleans' memory storage, which spreads the state
    /// over storage grains on the silos and so also works for silos in several processes.
    /// </summary>
    public InProcessGrainStore? InProcessStore { get; init; }

    /// <summary>Storage=memory: folder of the local weight store.</summary>
    public string WeightFolder { get; init; } = Path.Combine("runs", "weights");

    /// <summary>
    /// Folder where the silo keeps its copies of datasets that runs published through the store (one sub-folder per
    /// archive, named by its sha256; docs/datasets.md, "On a cluster"). By default the user's cache folder
    /// (<see cref="DefaultDatasetCache"/>), not under <c>runs/</c>: that folder holds run folders, and a cache beside
    /// them would read as one more run to anything that lists them.
    /// </summary>
    public string DatasetCache { get; init; } = DefaultDatasetCache;

    /// <summary><c>$XDG_CACHE_HOME/grid/datasets</c>, else <c>~/.cache/grid/datasets</c>, else the temp folder's
    /// <c>grid-datasets</c> when the process has no home.</summary>
    public static string DefaultDatasetCache { get; } = Path.Combine(
        Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } cache && Path.IsPathRooted(cache) ? cache
        : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) is { Length: > 0 } home ? Path.Combine(home, ".cache")
        : Path.GetTempPath(),
        "grid", "datasets");

    /// <summary>Storage=azure: blob container of the weight store (3-63 lowercase letters, digits, hyphens).</summary>
    public string WeightContainer { get; init; } = "grid-weights";

    /// <summary>
    /// Detect dead silos in seconds rather than tens of seconds (see <c>GridMembership</c>). Right for tests and
    /// small clusters on one network; turn it off for large clusters on flaky links.
    /// </summary>
    public bool FastFailureDetection { get; init; } = true;

    /// <summary>Mutual TLS on the silo port and the gateway (keys <c>Grid:Tls:*</c>); off when nothing is set.</summary>
    public GridTlsOptions Tls { get; init; } = new();

    /// <summary>Checks every setting and throws one <see cref="GridConfigurationException"/> listing all problems.</summary>
    public GridSiloOptions Validate()
    {
        var problems = new List<string>();
        if (!Enum.IsDefined(Cluster))
        {
            problems.Add($"Cluster is {(int)Cluster}; use localhost or azure.");
        }

        if (!Enum.IsDefined(Storage))
        {
            problems.Add($"Storage is {(int)Storage}; use memory or azure.");
        }

        bool needsAzure = Cluster == ClusterMode.Azure || Storage == StorageMode.Azure;
        if (needsAzure && string.IsNullOrWhiteSpace(AzureStorageConnectionString))
        {
            problems.Add(
                $"Cluster={Cluster.ToString().ToLowerInvariant()} Storage={Storage.ToString().ToLowerInvariant()} "
                + "needs AzureStorageConnectionString; pass the connection string of an Azure Storage account "
                + "(or Azurite, see infra/azurite), or use --cluster localhost --storage memory.");
        }
        else if (needsAzure && StorageConnectionString.Refusal(AzureStorageConnectionString) is { } malformed)
        {
            problems.Add(malformed);
        }

        if (GpuDevices is < 0 or > 64)
        {
            problems.Add($"GpuDevices is {GpuDevices}; use 0 (no GPU) to 64.");
        }

        SiloRoleRules.Check(problems, Role, GpuDevices, AllowCpuLearner);
        CheckPort(problems, nameof(SiloPort), SiloPort, allowZero: false);
        CheckPort(problems, nameof(GatewayPort), GatewayPort, allowZero: true);
        if (SiloPort == GatewayPort)
        {
            problems.Add($"SiloPort and GatewayPort are both {SiloPort}; give the gateway its own port.");
        }

        if (PrimarySiloPort is { } primary)
        {
            if (Cluster != ClusterMode.Localhost)
            {
                problems.Add(
                    $"PrimarySiloPort is {primary} but Cluster is {Cluster}; a primary silo only exists with "
                    + "localhost clustering (azure silos find each other through the membership table).");
            }

            CheckPort(problems, nameof(PrimarySiloPort), primary, allowZero: false);
        }

        CheckListenPorts(problems);
        if (AdvertisedAddress is { } address && !System.Net.IPAddress.TryParse(address, out _))
        {
            problems.Add($"AdvertisedAddress is '{address}'; give an IP address such as 10.0.0.4 or 127.0.0.1.");
        }

        CheckId(problems, nameof(ClusterId), ClusterId);
        CheckId(problems, nameof(ServiceId), ServiceId);
        if (Storage == StorageMode.Memory && string.IsNullOrWhiteSpace(WeightFolder))
        {
            problems.Add("WeightFolder is empty; give a folder for the local weight store, e.g. runs/weights.");
        }

        if (string.IsNullOrWhiteSpace(DatasetCache))
        {
            problems.Add("DatasetCache is empty; give a folder for the silo's copies of published datasets, e.g. ~/.cache/grid/datasets (the default).");
        }

        if (Storage == StorageMode.Azure && InProcessStore is not null)
        {
            problems.Add("InProcessStore is set but Storage is azure; grain state goes to Azure Table and Blob. Leave "
                + "InProcessStore unset, or use Storage=memory for a cluster that lives in one process.");
        }

        if (Storage == StorageMode.Azure && !ContainerName().IsMatch(WeightContainer ?? ""))
        {
            problems.Add(
                $"WeightContainer is '{WeightContainer}'; a blob container name has 3-63 lowercase letters, digits "
                + "and single hyphens, starting and ending with a letter or digit.");
        }

        problems.AddRange(GridTls.Problems(Tls, GridTlsRole.Silo));
        if (problems.Count > 0)
        {
            throw new GridConfigurationException(
                "Invalid Grid silo settings:" + Environment.NewLine + "  - "
                + string.Join(Environment.NewLine + "  - ", problems));
        }

        return this;
    }

    /// <summary>Parses a <c>--cluster</c> value.</summary>
    public static ClusterMode ParseCluster(string value) => value?.Trim().ToLowerInvariant() switch
    {
        "localhost" => ClusterMode.Localhost,
        "azure" => ClusterMode.Azure,
        _ => throw new GridConfigurationException($"--cluster is '{value}'; use localhost or azure."),
    };

    /// <summary>Parses a <c>--storage</c> value.</summary>
    public static StorageMode ParseStorage(string value) => value?.Trim().ToLowerInvariant() switch
    {
        "memory" => StorageMode.Memory,
        "azure" => StorageMode.Azure,
        _ => throw new GridConfigurationException($"--storage is '{value}'; use memory or azure."),
    };

    /// <summary>All settings, with the connection string redacted: safe for logs.</summary>
    public override string ToString()
    {
        var text = new StringBuilder("GridSiloOptions { ");
        text.Append($"Cluster = {Cluster}, Storage = {Storage}, GpuDevices = {GpuDevices}, ");
        text.Append($"AllowCpuLearner = {AllowCpuLearner}, Role = {GridSiloRoles.Name(Role)}, SiloPort = {SiloPort}, GatewayPort = {GatewayPort}, ");
        text.Append($"PrimarySiloPort = {PrimarySiloPort?.ToString() ?? "none"}, ");
        text.Append($"AdvertisedAddress = {AdvertisedAddress ?? "default"}, ");
        text.Append($"SiloListenPort = {SiloListenPort?.ToString() ?? "SiloPort"}, GatewayListenPort = {GatewayListenPort?.ToString() ?? "GatewayPort"}, ");
        text.Append($"ClusterId = {ClusterId}, ServiceId = {ServiceId}, ");
        text.Append($"AzureStorageConnectionString = {Redact(AzureStorageConnectionString)}, ");
        text.Append($"WeightFolder = {WeightFolder}, WeightContainer = {WeightContainer}, DatasetCache = {DatasetCache}, ");
        text.Append($"InProcessStore = {(InProcessStore is null ? "none" : "shared in this process")}, ");
        text.Append($"FastFailureDetection = {FastFailureDetection}, Tls = {Tls} }}");
        return text.ToString();
    }

    internal static string Redact(string? secret) => string.IsNullOrEmpty(secret) ? "<none>" : "<redacted>";

    private void CheckListenPorts(List<string> problems)
    {
        if ((SiloListenPort ?? GatewayListenPort) is { } any && Cluster == ClusterMode.Localhost)
        {
            problems.Add($"A listen port ({any}) is set but Cluster is {Cluster}; listening on a port other than the advertised "
                + "one is for azure clustering (NAT, port mapping); localhost silos listen on SiloPort and GatewayPort.");
        }

        if (SiloListenPort is { } silo)
        {
            CheckPort(problems, nameof(SiloListenPort), silo, allowZero: false);
        }

        if (GatewayListenPort is { } gateway)
        {
            CheckPort(problems, nameof(GatewayListenPort), gateway, allowZero: false);
            if (GatewayPort == 0)
            {
                problems.Add($"GatewayListenPort is {gateway} but GatewayPort is 0 (no gateway); give a GatewayPort or drop GatewayListenPort.");
            }
        }

        if (SiloListenPort is { } s && (GatewayListenPort ?? GatewayPort) == s)
        {
            problems.Add($"SiloListenPort is {s}, the port the gateway listens on too; give them different ports.");
        }
    }

    private static void CheckPort(List<string> problems, string name, int port, bool allowZero)
    {
        if (port < (allowZero ? 0 : 1) || port > 65535)
        {
            problems.Add($"{name} is {port}; use {(allowZero ? 0 : 1)} to 65535.");
        }
    }

    private static void CheckId(List<string> problems, string name, string value)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Any(c => !char.IsAsciiLetterOrDigit(c) && c != '-'))
        {
            problems.Add($"{name} is '{value}'; use ASCII letters, digits and hyphens (it keys Azure tables).");
        }
    }

    [GeneratedRegex("^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")]
    private static partial Regex ContainerName();
}
