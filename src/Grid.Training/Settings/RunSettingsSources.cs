using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;

namespace Grid.Training.Settings;

/// <summary>
/// The layers of run settings as configuration sources, so that a <see cref="ConfigurationBuilder"/> composes them and
/// a host can put sources of its own among them: <c>new ConfigurationBuilder().AddRunSettingsPreset("smoke")
/// .AddRunSettingsFile(path).AddRunSettingsConfiguration(appConfiguration, "Grid:Run").AddRunSettingsEnvironment()
/// .AddRunSettingsOverrides(["steps=5"]).Build()</c>, read with <see cref="RunSettingsLoader.Resolve"/>. Later sources
/// win; a later source that gives a list replaces the whole list. Keys are the settings' snake_case names with
/// <c>:</c> between levels (<c>kl:beta_max</c>).
/// </summary>
public static class RunSettingsConfigurationExtensions
{
    /// <summary>A named preset (<see cref="RunSettingsLoader.Presets"/>), every setting; null is "demo".</summary>
    public static IConfigurationBuilder AddRunSettingsPreset(this IConfigurationBuilder builder, string? preset) =>
        builder.Add(new RunSettingsJsonSource($"preset {preset ?? "demo"}", () => [RunSettingsLoader.PresetLayer(preset)]));

    /// <summary>A JSON settings file with any subset of the settings; refused when missing, a folder, too large or not
    /// one JSON object with each key once.</summary>
    public static IConfigurationBuilder AddRunSettingsFile(this IConfigurationBuilder builder, string path) =>
        builder.Add(new RunSettingsJsonSource(path, () => [new([], RunSettingsLoader.ReadFile(path))]));

    /// <summary><c>key=value</c> overrides as <c>--set</c> takes them (<c>kl.beta_max=0.2</c>, values JSON or bare words).</summary>
    public static IConfigurationBuilder AddRunSettingsOverrides(this IConfigurationBuilder builder, IEnumerable<string> overrides)
    {
        var list = overrides.ToList();
        return builder.Add(new RunSettingsJsonSource("--set", () => [.. list.Select(RunSettingsLoader.ParseAssignment)]));
    }

    /// <summary>The command line's own flags (<c>--steps</c>, ...), a layer of its own.</summary>
    public static IConfigurationBuilder AddRunSettingFlags(this IConfigurationBuilder builder, RunSettingFlags flags)
    {
        var list = flags.AsOverrides().ToList();
        return builder.Add(new RunSettingsJsonSource("--set", () => [.. list.Select(RunSettingsLoader.ParseAssignment)]));
    }

    /// <summary>The <see cref="RunSettingsLoader.EnvironmentPrefix"/> variables of <paramref name="environment"/>
    /// (null: this process's): <c>GRID_RUN__KL__BETA_MAX=0.05</c> is <c>kl:beta_max</c>. Names are case-insensitive;
    /// of two names that differ only in case, the one that sorts last ordinally wins, so no run depends on the order
    /// the platform lists them in.</summary>
    public static IConfigurationBuilder AddRunSettingsEnvironment(this IConfigurationBuilder builder,
        IEnumerable<KeyValuePair<string, string?>>? environment = null) =>
        builder.Add(new RunSettingsEnvironmentSource(environment));

    /// <summary>
    /// The run settings held in <paramref name="section"/> of a host's configuration (e.g. <c>Grid:Run</c> of its
    /// appsettings and environment), or at its top when null. When <paramref name="configuration"/> is an
    /// <see cref="IConfigurationRoot"/>, each of its providers is a layer of its own, so a list its later provider
    /// gives replaces an earlier one's there too.
    /// </summary>
    public static IConfigurationBuilder AddRunSettingsConfiguration(this IConfigurationBuilder builder,
        IConfiguration configuration, string? section = null) =>
        builder.Add(new RunSettingsConfigurationSource(configuration, section));
}

/// <summary>One assignment of a layer that knows its values' JSON types: <paramref name="Path"/> empty sets the
/// settings the object <paramref name="Value"/> names.</summary>
internal sealed record RunSettingsAssignment(string[] Path, JsonNode? Value);

/// <summary>A layer read as JSON (preset, file, flags, <c>--set</c>): <see cref="RunSettingsLoader.Resolve"/> takes
/// its values with their JSON types, so <c>"steps": "7"</c> is still a string where a number is wanted.</summary>
public sealed class RunSettingsJsonSource : IConfigurationSource
{
    private readonly Func<IReadOnlyList<RunSettingsAssignment>> _read;

    internal RunSettingsJsonSource(string origin, Func<IReadOnlyList<RunSettingsAssignment>> read)
    {
        Origin = origin;
        _read = read;
    }

    /// <summary>Where the values come from, as refusals name it (a file path, <c>--set</c>, <c>preset demo</c>).</summary>
    public string Origin { get; }

    public IConfigurationProvider Build(IConfigurationBuilder builder) => new RunSettingsJsonProvider(Origin, _read);
}

/// <summary>
/// The provider of a <see cref="RunSettingsJsonSource"/>: for any reader of configuration its values are ordinary
/// keys (lists by index, JSON null as "", an empty list or object as a key without a value);
/// the loader reads its <see cref="Assignments"/> instead.
/// </summary>
public sealed class RunSettingsJsonProvider : ConfigurationProvider
{
    private readonly Func<IReadOnlyList<RunSettingsAssignment>> _read;

    internal RunSettingsJsonProvider(string origin, Func<IReadOnlyList<RunSettingsAssignment>> read)
    {
        Origin = origin;
        _read = read;
    }

    public string Origin { get; }

    internal IReadOnlyList<RunSettingsAssignment> Assignments { get; private set; } = [];

    public override void Load()
    {
        Assignments = _read();
        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var assignment in Assignments)
        {
            Flatten(data, string.Join(ConfigurationPath.KeyDelimiter, assignment.Path), assignment.Value);
        }

        Data = data;
    }

    public override string ToString() => $"run settings from {Origin}";

    private static void Flatten(Dictionary<string, string?> data, string key, JsonNode? node)
    {
        if (node is not JsonObject)
        {
            // A list or a value replaces whatever an earlier assignment of this layer put under the key.
            foreach (string stale in data.Keys.Where(k => k.StartsWith(key + ConfigurationPath.KeyDelimiter, StringComparison.OrdinalIgnoreCase)).ToList())
            {
                data.Remove(stale);
            }
        }

        switch (node)
        {
            case JsonObject empty when empty.Count == 0:
                if (key.Length > 0)
                {
                    data[key] = null;
                }

                break;
            case JsonObject group:
                foreach (var (name, value) in group)
                {
                    Flatten(data, key.Length == 0 ? name : ConfigurationPath.Combine(key, name), value);
                }

                break;
            case JsonArray list when list.Count == 0:
                data[key] = null;
                break;
            case JsonArray list:
                data.Remove(key);
                for (int i = 0; i < list.Count; i++)
                {
                    Flatten(data, ConfigurationPath.Combine(key, i.ToString(System.Globalization.CultureInfo.InvariantCulture)), list[i]);
                }

                break;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                data[key] = value.GetValue<string>();
                break;
            case JsonValue value:
                data[key] = value.ToJsonString();
                break;
            default:
                data[key] = "";
                break;
        }
    }
}

/// <summary>The <see cref="RunSettingsLoader.EnvironmentPrefix"/> environment variables as run settings.</summary>
public sealed class RunSettingsEnvironmentSource(IEnumerable<KeyValuePair<string, string?>>? environment) : IConfigurationSource
{
    public IConfigurationProvider Build(IConfigurationBuilder builder) => new RunSettingsEnvironmentProvider(environment);
}

/// <summary>The provider of <see cref="RunSettingsEnvironmentSource"/>; remembers which variable gave each key, so a
/// refusal names the variable.</summary>
public sealed class RunSettingsEnvironmentProvider(IEnumerable<KeyValuePair<string, string?>>? environment) : ConfigurationProvider
{
    private readonly Dictionary<string, string> _variables = new(StringComparer.OrdinalIgnoreCase);

    public override void Load()
    {
        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        _variables.Clear();
        foreach (var (name, value) in (environment ?? ProcessEnvironment())
            .Where(v => v.Key.StartsWith(RunSettingsLoader.EnvironmentPrefix, StringComparison.OrdinalIgnoreCase) && v.Value is not null)
            .OrderBy(v => v.Key, StringComparer.OrdinalIgnoreCase)
            .ThenBy(v => v.Key, StringComparer.Ordinal))
        {
            string key = name[RunSettingsLoader.EnvironmentPrefix.Length..]
                .Replace("__", ConfigurationPath.KeyDelimiter, StringComparison.Ordinal).ToLowerInvariant();
            data[key] = value;
            _variables[key] = name;
        }

        Data = data;
    }

    /// <summary>The variable that set <paramref name="key"/> or a key under it; null when none did.</summary>
    internal string? VariableFor(string key) =>
        _variables.TryGetValue(key, out string? name) ? name
        : _variables.Where(v => v.Key.StartsWith(key + ConfigurationPath.KeyDelimiter, StringComparison.OrdinalIgnoreCase))
            .Select(v => v.Value).Order(StringComparer.OrdinalIgnoreCase).FirstOrDefault();

    public override string ToString() => $"environment variables {RunSettingsLoader.EnvironmentPrefix}*";

    private static IEnumerable<KeyValuePair<string, string?>> ProcessEnvironment() =>
        Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .Select(e => new KeyValuePair<string, string?>((string)e.Key, e.Value as string));
}

/// <summary>A host's configuration (or a section of it) as one layer of run settings.</summary>
public sealed class RunSettingsConfigurationSource(IConfiguration configuration, string? section) : IConfigurationSource
{
    public IConfigurationProvider Build(IConfigurationBuilder builder) => new RunSettingsConfigurationProvider(configuration, section);
}

/// <summary>
/// The provider of <see cref="RunSettingsConfigurationSource"/>: a snapshot of the section's keys for any reader of
/// configuration; the loader reads <see cref="Configuration"/> itself, provider by provider.
/// </summary>
public sealed class RunSettingsConfigurationProvider(IConfiguration configuration, string? section) : ConfigurationProvider
{
    public IConfiguration Configuration { get; } = configuration;

    /// <summary>The section that holds the run settings; null: the top of <see cref="Configuration"/>.</summary>
    public string? Section { get; } = section;

    public override void Load()
    {
        var root = Section is null ? Configuration : Configuration.GetSection(Section);
        Data = root.AsEnumerable(makePathsRelative: true).Where(p => p.Key.Length > 0)
            .ToDictionary(p => p.Key, p => p.Value, StringComparer.OrdinalIgnoreCase);
    }

    public override string ToString() => Section is null ? "host configuration" : $"host configuration section {Section}";
}
