using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace Grid.Deployment.Tests;

/// <summary>
/// infra/compose/compose.yaml, parsed (YamlDotNet, with YAML merge keys) and checked against the repository: Azurite, three
/// silos of the image infra/docker/Dockerfile builds (one learner with --gpu 1), Prometheus with the shipped alerts and
/// Grafana with the shipped dashboard, every mounted file present. Docker Compose itself cannot run here (no engine).
/// </summary>
public sealed class ComposeTests
{
    private const string Folder = "infra/compose";
    private static readonly Dictionary<string, object?> Compose = Load(Path.Combine(Folder, "compose.yaml"));

    /// <summary>The one-shot service that fills <see cref="CertsFolder"/> before any silo starts.</summary>
    private const string CertsService = "certs";

    /// <summary>The git-ignored host folder of the TLS material, relative to the compose file.</summary>
    private const string CertsFolder = "./certs";

    private static Dictionary<string, Dictionary<string, object?>> Services => Map(Compose["services"]).ToDictionary(
        s => s.Key, s => Map(s.Value));

    /// <summary>The silos that `up` starts: services of the Grid image running `grid silo` outside any profile.</summary>
    private static Dictionary<string, Dictionary<string, object?>> Silos => Services
        .Where(s => s.Value.ContainsKey("build") && !s.Value.ContainsKey("profiles") && Command(s.Value).FirstOrDefault() == "silo")
        .ToDictionary();

    [Fact]
    public void It_runs_azurite_three_silos_prometheus_and_grafana()
    {
        Assert.Contains("azurite", Services.Keys);
        Assert.Contains("prometheus", Services.Keys);
        Assert.Contains("grafana", Services.Keys);
        Assert.Equal(3, Silos.Count);
        var learners = Silos.Where(s => Command(s.Value).SequenceEqual(["silo", "--gpu", "1", "--metrics-address", "0.0.0.0"])).ToList();
        Assert.Single(learners);
        Assert.All(Silos.Where(s => s.Key != learners[0].Key), s => Assert.DoesNotContain("--gpu", Command(s.Value)));
    }

    [Fact]
    public void Every_silo_is_built_from_the_dockerfile_with_the_torch_backend_argument_and_joins_over_azurite()
    {
        foreach (var (name, silo) in Silos)
        {
            var build = Map(silo["build"]);
            string context = Path.GetFullPath(Path.Combine(RepoFiles.PathOf(Folder), (string)build["context"]!));
            Assert.Equal(RepoFiles.Root.TrimEnd('/'), context.TrimEnd('/'));
            Assert.True(File.Exists(Path.Combine(context, (string)build["dockerfile"]!)), $"{name}: no dockerfile {build["dockerfile"]}");
            Assert.Equal("${TORCH_BACKEND:-cpu}", Map(build["args"])["TORCH_BACKEND"]);

            var environment = Map(silo["environment"]);
            Assert.Equal("azure", environment["GRID__CLUSTER"]);
            Assert.Equal("azure", environment["GRID__STORAGE"]);
            Assert.Contains("TableEndpoint=http://azurite:10002/", (string)environment["GRID_AZURE_STORAGE"]!);
            Assert.Contains($"AccountKey={AzuriteAccountKey};", (string)environment["GRID_AZURE_STORAGE"]!);
            Assert.Equal("service_healthy", Map(Map(silo["depends_on"])["azurite"])["condition"]);
        }
    }

    [Fact]
    public void Every_silo_runs_mutual_tls_from_the_read_only_certs_folder_made_before_it_starts()
    {
        Assert.Equal(3, Silos.Count);
        foreach (var (name, silo) in Silos)
        {
            AssertTls(name, silo, "silo.pem", "silo.key");
            Assert.Equal("service_completed_successfully", Map(Map(silo["depends_on"])[CertsService])["condition"]);
        }
    }

    [Fact]
    public void Submit_presents_the_client_certificate_of_the_same_ca()
    {
        var submit = Services["submit"];
        AssertTls("submit", submit, "client.pem", "client.key");
        Assert.Equal(Map(Silos.First().Value["environment"])["GRID__TLS__CERTIFICATEAUTHORITY"],
            Map(submit["environment"])["GRID__TLS__CERTIFICATEAUTHORITY"]);
        Assert.Equal("service_completed_successfully", Map(Map(submit["depends_on"])[CertsService])["condition"]);
    }

    [Fact]
    public void The_certs_service_creates_dev_certificates_only_when_missing_into_the_git_ignored_folder()
    {
        var certs = Services[CertsService];
        Assert.Equal("no", certs["restart"]);
        Assert.False(certs.ContainsKey("profiles"), "the certs service must run on a plain `up`");
        var mounts = Mounts(certs);
        string target = Assert.Single(mounts, m => m.Value == CertsFolder).Key;
        string script = string.Join('\n', List(certs["command"]));
        Assert.Contains($"tls create-dev-certs --out {target}", script);
        foreach (string file in new[] { "ca.pem", "silo.pem", "silo.key", "client.pem", "client.key" })
        {
            Assert.Contains(file, script); // checked for before creating: an existing set is kept
        }

        // The folder is in the repository (its README) but everything else in it is ignored: the private keys never are.
        Assert.True(File.Exists(RepoFiles.PathOf("infra/compose/certs/README.md")));
        Assert.True(RepoFiles.IsIgnored("infra/compose/certs/silo.key"), "infra/compose/certs/ is not git-ignored");
        Assert.True(RepoFiles.IsIgnored("infra/compose/certs/ca.key"), "infra/compose/certs/ is not git-ignored");
        Assert.False(RepoFiles.IsIgnored("infra/compose/certs/README.md"));
    }

    [Fact]
    public void Every_silo_is_health_checked_on_healthz_of_its_metrics_port()
    {
        foreach (var (name, silo) in Silos)
        {
            string port = (string)Map(silo["environment"])["GRID__METRICS__PORT"]!;
            string test = string.Join(' ', List(Map(silo["healthcheck"])["test"]));
            Assert.Contains($"/dev/tcp/127.0.0.1/{port}", test);
            Assert.Contains("GET /healthz", test);
            Assert.Contains(" 200 ", test);
            Assert.True(Seconds((string)silo["stop_grace_period"]!) > 30, $"{name}: stop_grace_period must exceed a silo's 30 s drain");
        }
    }

    [Fact]
    public void Prometheus_scrapes_every_silo_with_the_shipped_alerts_and_grafana_gets_the_shipped_dashboard()
    {
        var prometheus = Services["prometheus"];
        var mounts = Mounts(prometheus);
        Assert.Equal("../prometheus/alerts.yml", mounts["/etc/prometheus/alerts.yml"]);
        var config = Load(Path.Combine(Folder, mounts["/etc/prometheus/prometheus.yml"]));
        Assert.Equal(["alerts.yml"], List(config["rule_files"]));
        var targets = List(Map(Items(Map(Items(config["scrape_configs"])[0])["static_configs"])[0])["targets"]);
        Assert.Equal(Silos.Keys.Select(s => $"{s}:{Map(Silos[s]["environment"])["GRID__METRICS__PORT"]}").Order(), targets.Order());

        var grafana = Mounts(Services["grafana"]);
        Assert.Equal("../grafana/dashboards", grafana["/var/lib/grafana/dashboards/grid"]);
        Assert.Equal("../grafana/provisioning/dashboards/grid.yml", grafana["/etc/grafana/provisioning/dashboards/grid.yml"]);
        var provider = Map(Items(Load("infra/grafana/provisioning/dashboards/grid.yml")["providers"])[0]);
        Assert.Equal("/var/lib/grafana/dashboards/grid", Map(provider["options"])["path"]);
        var datasource = Map(Items(Load(Path.Combine(Folder, grafana["/etc/grafana/provisioning/datasources/grid.yml"]))["datasources"])[0]);
        Assert.Equal("http://prometheus:9090", datasource["url"]);
        Assert.Contains($"\"{datasource["uid"]}\"", RepoFiles.Read("infra/grafana/dashboards/grid.json"));
    }

    [Fact]
    public void Every_mounted_file_exists_and_no_host_port_is_published_twice()
    {
        foreach (var (name, service) in Services)
        {
            foreach (var (target, source) in Mounts(service).Where(m => m.Value.StartsWith('.')))
            {
                string path = Path.Combine(RepoFiles.PathOf(Folder), source);
                Assert.True(File.Exists(path) || Directory.Exists(path), $"{name} mounts {source} at {target}: not in the repository");
            }
        }

        var published = Services.Values.Where(s => s.ContainsKey("ports")).SelectMany(s => List(s["ports"]))
            .Select(p => p.Split(':')[0]).ToList();
        Assert.Equal(published.Distinct().Count(), published.Count);
    }

    [Fact]
    public void Promtool_accepts_the_compose_prometheus_config_with_the_shipped_alerts()
    {
        string? promtool = RepoFiles.OnPath("promtool");
        Assert.SkipWhen(promtool is null, "promtool is not installed (Debian package prometheus; infra/test.sh installs it)");
        var folder = Directory.CreateTempSubdirectory("grid-compose-prometheus-");
        try
        {
            File.Copy(RepoFiles.PathOf("infra/compose/prometheus.yml"), Path.Combine(folder.FullName, "prometheus.yml"));
            File.Copy(RepoFiles.PathOf("infra/prometheus/alerts.yml"), Path.Combine(folder.FullName, "alerts.yml"));

            var (exit, output, errors) = RepoFiles.Run(promtool!, ["check", "config", Path.Combine(folder.FullName, "prometheus.yml")],
                TimeSpan.FromMinutes(1));

            Assert.True(exit == 0, $"promtool check config: {output}{errors}");
            Assert.Contains("SUCCESS", output + errors);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>
    /// The three TLS settings of <paramref name="service"/> name files of the read-only mount of ./certs (never the
    /// material itself), and no password is given on the compose file.
    /// </summary>
    private static void AssertTls(string name, Dictionary<string, object?> service, string certificate, string key)
    {
        var environment = Map(service["environment"]);
        string folder = Assert.Single(List(service["volumes"]), v => v.StartsWith(CertsFolder + ":", StringComparison.Ordinal));
        var parts = folder.Split(':');
        Assert.True(parts.Length == 3 && parts[2] == "ro", $"{name}: {folder} is not read-only");
        string target = parts[1].TrimEnd('/');
        var expected = new Dictionary<string, string>
        {
            ["GRID__TLS__CERTIFICATE"] = certificate,
            ["GRID__TLS__KEY"] = key,
            ["GRID__TLS__CERTIFICATEAUTHORITY"] = "ca.pem",
        };
        foreach (var (setting, file) in expected)
        {
            Assert.True(environment.TryGetValue(setting, out var value), $"{name}: no {setting}");
            Assert.Equal($"{target}/{file}", value);
        }

        Assert.DoesNotContain("GRID__TLS__PASSWORD", environment.Keys);
        Assert.DoesNotContain(Command(service), a => a.StartsWith("--tls", StringComparison.Ordinal));
    }

    /// <summary>Azurite's published development key, as the tests' own Azurite uses it.</summary>
    private static string AzuriteAccountKey => System.Text.RegularExpressions.Regex.Match(
        RepoFiles.Read("tests/Grid.TestSupport/AzuriteServer.cs"), @"AccountKey =\s*""([^""]+)""").Groups[1].Value;

    private static Dictionary<string, object?> Load(string relative)
    {
        using var reader = new StringReader(RepoFiles.Read(relative));
        var parsed = new DeserializerBuilder().Build().Deserialize<object>(new MergingParser(new Parser(reader)));
        return Map(parsed);
    }

    private static Dictionary<string, object?> Map(object? value) => value is Dictionary<object, object?> map
        ? map.ToDictionary(e => (string)e.Key, e => e.Value)
        : throw new InvalidOperationException($"Expected a YAML mapping, found {value?.GetType().Name ?? "nothing"}.");

    private static List<string> List(object? value) => value is List<object?> list
        ? list.Select(i => i as string ?? throw new InvalidOperationException($"Expected text, found {i?.GetType().Name}.")).ToList()
        : throw new InvalidOperationException($"Expected a YAML sequence, found {value?.GetType().Name ?? "nothing"}.");

    private static List<object?> Items(object? value) => value as List<object?>
        ?? throw new InvalidOperationException($"Expected a YAML sequence, found {value?.GetType().Name ?? "nothing"}.");

    private static List<string> Command(Dictionary<string, object?> service) =>
        service.TryGetValue("command", out var command) ? List(command) : [];

    /// <summary>Bind mounts and volumes: container path to source.</summary>
    private static Dictionary<string, string> Mounts(Dictionary<string, object?> service) =>
        service.TryGetValue("volumes", out var volumes)
            ? List(volumes).Select(v => v.Split(':')).ToDictionary(p => p[1], p => p[0])
            : [];

    private static double Seconds(string duration) => duration.EndsWith('s') ? double.Parse(duration[..^1],
        System.Globalization.CultureInfo.InvariantCulture) : throw new FormatException($"Expected seconds such as 45s, got {duration}.");
}
