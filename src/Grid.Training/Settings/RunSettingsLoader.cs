using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Grid.Core.Files;
using Grid.Core.Settings;
using Microsoft.Extensions.Configuration;

namespace Grid.Training.Settings;

/// <summary>
/// Builds a <see cref="RunSettings"/> from layers, later wins: a preset, a JSON file, (a host's configuration,)
/// environment variables (<c>GRID_RUN__KL__BETA_MAX=0.05</c>), the command line's own flags (<c>--steps</c>, ...), then
/// <c>key=value</c> overrides (<c>--set</c>), and validates it once. The layers are configuration sources
/// (<see cref="RunSettingsConfigurationExtensions"/>) composed by one <see cref="ConfigurationBuilder"/>, so a host
/// may add its own among them; <see cref="Resolve"/> reads any such configuration. Unknown keys, wrong types and out-of-range values are refused with the key, the
/// offending value and what would be right.
/// </summary>
public static class RunSettingsLoader
{
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
    };

    /// <summary>Named starting points: "demo" is the README's run; "smoke" is seconds long, for checks and tests.</summary>
    public static IReadOnlyDictionary<string, RunSettings> Presets { get; } = new Dictionary<string, RunSettings>
    {
        ["demo"] = new RunSettings(),
        ["smoke"] = new RunSettings
        {
            Name = "smoke",
            Steps = 3,
            PromptsPerStep = 4,
            GroupSize = 4,
            MaxNewTokens = 24,
            EvalPrompts = 8,
            EvalEvery = 0,
            ValidationPrompts = 8,
            CheckpointEvery = 2,
            Sft = new SftSettings { Steps = 4, BatchSize = 8, Demonstrations = 64 },
            Model = new ModelSettings { DModel = 32, Layers = 1, Heads = 2 },
        },
    };

    /// <param name="preset">Preset name, default "demo".</param>
    /// <param name="settingsPath">Optional JSON file with any subset of the settings.</param>
    /// <param name="overrides">"key=value" pairs, nested keys with dots: "kl.beta_max=0.2"; applied last.</param>
    /// <param name="flags">The command line's own flags (--steps, --task, ...): a layer under the overrides, so
    /// <c>--set</c> wins over them as the help text says.</param>
    /// <param name="environment">Environment variables (name to value), of which those named
    /// <see cref="EnvironmentPrefix"/>* are a layer between the file and the flags; null reads this process's.</param>
    public static RunSettings Load(string? preset = null, string? settingsPath = null, IEnumerable<string>? overrides = null,
        RunSettingFlags? flags = null, IEnumerable<KeyValuePair<string, string?>>? environment = null) =>
        Resolve(Sources(preset, settingsPath, null, null, environment, flags, overrides).Build());

    /// <summary>
    /// As <see cref="Load(string?, string?, IEnumerable{string}?, RunSettingFlags?, IEnumerable{KeyValuePair{string, string?}}?)"/>
    /// with a host's configuration as one more layer, between the file and the environment variables: the run settings
    /// in <paramref name="section"/> of <paramref name="configuration"/> (e.g. <c>Grid:Run</c>), or at its top when null.
    /// </summary>
    public static RunSettings Load(IConfiguration configuration, string? section, string? preset = null, string? settingsPath = null,
        IEnumerable<string>? overrides = null, RunSettingFlags? flags = null,
        IEnumerable<KeyValuePair<string, string?>>? environment = null) =>
        Resolve(Sources(preset, settingsPath, configuration, section, environment, flags, overrides).Build());

    /// <summary>The layers <see cref="Load(string?, string?, IEnumerable{string}?, RunSettingFlags?, IEnumerable{KeyValuePair{string, string?}}?)"/>
    /// composes, lowest first, as a builder a host may add further sources to before it builds and calls
    /// <see cref="Resolve"/>.</summary>
    public static IConfigurationBuilder Sources(string? preset = null, string? settingsPath = null, IConfiguration? configuration = null,
        string? section = null, IEnumerable<KeyValuePair<string, string?>>? environment = null, RunSettingFlags? flags = null,
        IEnumerable<string>? overrides = null)
    {
        var builder = new ConfigurationBuilder().AddRunSettingsPreset(preset);
        if (settingsPath is not null)
        {
            builder.AddRunSettingsFile(settingsPath);
        }

        if (configuration is not null)
        {
            builder.AddRunSettingsConfiguration(configuration, section);
        }

        builder.AddRunSettingsEnvironment(environment);
        if (flags is not null)
        {
            builder.AddRunSettingFlags(flags);
        }

        return builder.AddRunSettingsOverrides(overrides ?? []);
    }

    /// <summary>
    /// The settings a configuration holds, validated once. Starts from the defaults (the demo preset) and applies each
    /// provider of <paramref name="configuration"/> in order, later wins: a group's keys one by one, a list as a whole
    /// (where configuration would merge lists by index). Values of the JSON layers keep their JSON types; the strings of
    /// any other provider (environment variables, a host's appsettings) are read as <c>--set</c> reads a value, by the
    /// type of the setting. Unknown keys, wrong types and out-of-range values are refused with the key, the value and
    /// what would be right.
    /// </summary>
    public static RunSettings Resolve(IConfiguration configuration)
    {
        var node = JsonSerializer.SerializeToNode(new RunSettings(), JsonOptions)!.AsObject();
        foreach (var layer in Layers(configuration))
        {
            layer(node);
        }

        RunSettings settings;
        try
        {
            settings = node.Deserialize<RunSettings>(JsonOptions)
                ?? throw new InvalidSettingException("settings", null, "a JSON object");
        }
        catch (JsonException e)
        {
            string name = SettingName(e.Path);
            if (EnumNames(e.Message) is { } names)
            {
                // A named choice (kl.kind, loss_type, advantage_scale): the value as given and the names it may take.
                object? given = NodeAt(node, name) is JsonValue v && v.TryGetValue(out string? text) ? text : ValueAt(node, name);
                throw new InvalidSettingException(name, given, InvalidSettingException.OneOf(names));
            }

            throw new InvalidSettingException(name, ValueAt(node, name), TypeWanted(e.Message));
        }

        RunSettingsValidator.Validate(settings);
        return settings;
    }

    internal static RunSettingsAssignment PresetLayer(string? preset)
    {
        preset ??= "demo";
        if (!Presets.TryGetValue(preset, out var start))
        {
            throw new InvalidSettingException("preset", preset, InvalidSettingException.OneOf(Presets.Keys));
        }

        return new([], JsonSerializer.SerializeToNode(start, JsonOptions));
    }

    /// <summary>Each provider of <paramref name="configuration"/> (a host's own configuration root, provider by
    /// provider) as a step that applies it to the settings so far.</summary>
    private static IEnumerable<Action<JsonObject>> Layers(IConfiguration configuration) => configuration is IConfigurationRoot root
        ? root.Providers.SelectMany(provider => provider switch
        {
            RunSettingsJsonProvider json => [node => ApplyJson(node, json)],
            RunSettingsEnvironmentProvider environment => [TextLayer(ProviderReader(environment, null), key =>
                environment.VariableFor(key) is { } variable ? $"environment variable {variable}" : "environment variables")],
            RunSettingsConfigurationProvider host => HostLayers(host.Configuration, host.Section),
            ChainedConfigurationProvider chained => HostLayers(chained.Configuration, null),
            _ => [TextLayer(ProviderReader(provider, null), _ => provider.ToString() ?? "configuration")],
        })
        : HostLayers(configuration, null);

    private static IEnumerable<Action<JsonObject>> HostLayers(IConfiguration configuration, string? section) =>
        configuration is IConfigurationRoot root
            ? root.Providers.SelectMany(provider => provider is ChainedConfigurationProvider chained
                ? HostLayers(chained.Configuration, section)
                : [TextLayer(ProviderReader(provider, section), _ => $"configuration ({provider})")])
            : [TextLayer(SectionReader(section is null ? configuration : configuration.GetSection(section)),
                _ => section is null ? "configuration" : $"configuration section {section}")];

    private static void ApplyJson(JsonObject node, RunSettingsJsonProvider provider)
    {
        foreach (var assignment in provider.Assignments)
        {
            if (assignment.Path.Length == 0)
            {
                Merge(node, assignment.Value as JsonObject ?? [], _ => provider.Origin);
            }
            else
            {
                Apply(node, assignment.Path, assignment.Value, provider.Origin);
            }
        }
    }

    /// <summary>Reads a configuration provider's strings: found (null value included) and the names of a key's
    /// children.</summary>
    private sealed record TextReader(Func<string, (bool Found, string? Value)> TryGet, Func<string?, IReadOnlyList<string>> Children);

    private static TextReader ProviderReader(IConfigurationProvider provider, string? section) => new(
        key => provider.TryGet(section is null ? key : ConfigurationPath.Combine(section, key), out string? value) ? (true, value) : (false, null),
        path => [.. provider.GetChildKeys([], path is null ? section : section is null ? path : ConfigurationPath.Combine(section, path))
            .Distinct(StringComparer.OrdinalIgnoreCase)]);

    private static TextReader SectionReader(IConfiguration configuration) => new(
        key => configuration.GetSection(key).Value is { } value ? (true, value) : (false, null),
        path => [.. (path is null ? configuration : configuration.GetSection(path)).GetChildren().Select(c => c.Key)
            .Distinct(StringComparer.OrdinalIgnoreCase)]);

    private static Action<JsonObject> TextLayer(TextReader reader, Func<string, string> origin) =>
        node => Merge(node, ReadGroup(reader, null, typeof(RunSettings)),
            setting => origin(setting.Replace(".", ConfigurationPath.KeyDelimiter, StringComparison.Ordinal)));

    /// <summary>The keys under <paramref name="path"/> as JSON, each value typed by the setting it is for
    /// (<paramref name="type"/> is the group's record or the map's dictionary type; null for an unknown key).</summary>
    private static JsonObject ReadGroup(TextReader reader, string? path, Type? type)
    {
        var result = new JsonObject();
        var known = type is null ? null : SettingShape.Properties(type);
        var entries = type is null ? null : SettingShape.MapValueType(type);
        foreach (string child in reader.Children(path))
        {
            string key = path is null ? child : ConfigurationPath.Combine(path, child);
            string? name = known?.Keys.FirstOrDefault(k => string.Equals(k, child, StringComparison.OrdinalIgnoreCase));
            result[name ?? child.ToLowerInvariant()] = ReadValue(reader, key, entries ?? (name is null ? null : known![name]));
        }

        return result;
    }

    private static JsonNode? ReadValue(TextReader reader, string key, Type? type)
    {
        var (found, value) = reader.TryGet(key);
        var children = reader.Children(key);
        var element = type is null ? null : SettingShape.ListElementType(type);
        bool group = type is not null && (SettingShape.MapValueType(type) is not null || SettingShape.IsGroup(type));
        if (children.Count > 0)
        {
            // Indexed children are a list, in index order; anything else is a group (and refused if it is none).
            return element is not null && children.All(c => int.TryParse(c, out int i) && i >= 0)
                ? new JsonArray([.. children.OrderBy(c => int.Parse(c, System.Globalization.CultureInfo.InvariantCulture))
                    .Select(c => ReadValue(reader, ConfigurationPath.Combine(key, c), element))])
                : ReadGroup(reader, key, group ? type : null);
        }

        return value switch
        {
            // An empty value is how configuration spells an empty list or group (a JSON file's [] or {}).
            null or "" when found && element is not null => new JsonArray(),
            null or "" when found && group => new JsonObject(),
            null => null,
            _ => Retype(key.Replace(ConfigurationPath.KeyDelimiter, ".", StringComparison.Ordinal), value, element is null && !group ? type : null),
        };
    }

    /// <summary>A configuration string as the JSON value the setting takes: read as <c>--set</c> reads it (JSON, or a
    /// bare word as a string), except that a string or named-choice setting takes a number-looking text as text and a
    /// true/false setting takes any casing (.NET writes True).</summary>
    private static JsonNode? Retype(string setting, string text, Type? type)
    {
        var wanted = type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
        if (wanted == typeof(bool) && bool.TryParse(text.Trim(), out bool flag))
        {
            return JsonValue.Create(flag);
        }

        var value = ParseValue(setting, text.Trim());
        return (wanted == typeof(string) || wanted?.IsEnum == true) && value is JsonValue v && v.GetValueKind() != JsonValueKind.String
            ? JsonValue.Create(text.Trim())
            : value;
    }

    public static string ToJson(RunSettings settings) => JsonSerializer.Serialize(settings, JsonOptions);

    /// <summary>A settings file larger than this is refused unread; every setting fits in a few kilobytes.</summary>
    public const long MaxFileBytes = 1 << 20;

    /// <summary>A value given twice (a key repeated in one object) is refused rather than one of them silently winning.</summary>
    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        AllowDuplicateProperties = false,
    };

    internal static JsonObject ReadFile(string path)
    {
        if (InputFile.Refusal(path) is { } why && InputFile.KindOf(path) != FileKind.Directory)
        {
            throw new InvalidSettingException("config", path, $"a JSON settings file; it is {why}");
        }

        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw new FileNotFoundException(
                $"Settings file '{full}' is a folder. Pass a JSON file with --config, or leave the option out to use the preset.",
                path);
        }

        if (!File.Exists(full))
        {
            throw new FileNotFoundException(
                $"Settings file '{full}' does not exist. Pass an existing JSON file, or leave the option out to use the preset.",
                path);
        }

        string text;
        try
        {
            using var stream = new FileStream(full, FileMode.Open, FileAccess.Read);
            if (stream.CanSeek && stream.Length > MaxFileBytes)
            {
                throw new InvalidDataException(
                    $"Settings file '{full}' is {stream.Length} bytes; a settings file holds at most {MaxFileBytes} bytes "
                    + "(settings are a small JSON object). Pass the right file.");
            }

            var buffer = new byte[MaxFileBytes + 1];
            int read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            if (read > MaxFileBytes)
            {
                throw new InvalidDataException(
                    $"Settings file '{full}' holds more than {MaxFileBytes} bytes; settings are a small JSON object. Pass the right file.");
            }

            text = System.Text.Encoding.UTF8.GetString(buffer, 0, read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException && e is not FileNotFoundException)
        {
            throw new InvalidDataException($"Settings file '{full}' cannot be read ({e.Message}). Check its permissions.", e);
        }

        try
        {
            return JsonNode.Parse(text, documentOptions: DocumentOptions) as JsonObject
                ?? throw new InvalidDataException($"Settings file '{full}' must hold one JSON object {{...}}, e.g. {{\"steps\": 50}}.");
        }
        catch (JsonException e)
        {
            string where = e.LineNumber is long line ? $" at line {line + 1}, byte {e.BytePositionInLine + 1}" : "";
            throw new InvalidDataException(
                $"Settings file '{full}' is not valid JSON{where}: {e.Message} Fix the file: one JSON object, each key once.", e);
        }
    }

    /// <summary>Groups whose keys are names of the user's choosing (a map), not a fixed set of settings.</summary>
    private static readonly HashSet<string> s_maps = ["task_weights"];

    /// <param name="open">The target is a map: new keys are entries, not unknown settings.</param>
    /// <param name="prefix">The dotted name of <paramref name="target"/> ("" at the top, "kl." inside kl).</param>
    /// <param name="origin">Where the value of a setting (its dotted name) comes from, for refusals.</param>
    private static void Merge(JsonObject target, JsonObject source, Func<string, string> origin, bool open = false, string prefix = "")
    {
        foreach (var (name, value) in source)
        {
            string key = name;
            string setting = prefix + name;
            if (!open && !target.ContainsKey(key))
            {
                throw new InvalidSettingException(setting, value?.ToJsonString(),
                    $"a known setting (from {origin(setting)}); known here: {string.Join(", ", target.Select(p => p.Key))}");
            }

            var existing = target[key];
            if (value is JsonObject child && existing is JsonObject group)
            {
                Merge(group, child, origin, s_maps.Contains(key), setting + ".");
                continue;
            }

            // A group of settings (kl, model, ...) or a list only takes its own kind; null is no value for a setting
            // that has one by default (leaving the key out keeps the default).
            string? wanted = existing switch
            {
                JsonObject settings when value is not JsonObject =>
                    $"a JSON object of {key} settings, e.g. {{{string.Join(", ", settings.Take(1).Select(p => $"\"{p.Key}\": {p.Value?.ToJsonString()}"))}}}, or the key left out",
                JsonArray list when value is not JsonArray => $"a JSON array, e.g. {list.ToJsonString()}",
                not null when value is null => $"a value such as the default {existing.ToJsonString()} (null is not a value "
                    + "here; leave the key out to keep the default)",
                _ => null,
            };
            if (wanted is not null)
            {
                throw new InvalidSettingException(setting, value?.ToJsonString(), $"{wanted} (from {origin(setting)})");
            }

            target[key] = value?.DeepClone();
        }
    }

    /// <summary>Environment variables with this prefix set run settings: <c>__</c> separates the levels of a nested
    /// key (<c>GRID_RUN__KL__BETA_MAX</c> is <c>kl.beta_max</c>); names are case-insensitive, values read as <c>--set</c>'s.</summary>
    public const string EnvironmentPrefix = "GRID_RUN__";

    /// <summary>A <c>key=value</c> override as a path and a JSON value; refused when it is no assignment or its value
    /// looks like JSON but is not.</summary>
    internal static RunSettingsAssignment ParseAssignment(string assignment)
    {
        int eq = assignment.IndexOf('=');
        if (eq <= 0)
        {
            throw new InvalidSettingException("set", assignment, "key=value, e.g. steps=50 or kl.beta_max=0.2");
        }

        var path = assignment[..eq].Trim().Split('.');
        return new(path, ParseValue(string.Join('.', path), assignment[(eq + 1)..].Trim()));
    }

    private static JsonNode? ParseValue(string setting, string text)
    {
        try
        {
            return JsonNode.Parse(text, documentOptions: DocumentOptions);
        }
        catch (JsonException e) when (text.StartsWith('{') || text.StartsWith('['))
        {
            throw new InvalidSettingException(setting, text,
                $"valid JSON when it starts with {text[0]} ({e.Message}); give each key once");
        }
        catch (JsonException)
        {
            return JsonValue.Create(text); // bare words are strings: task=geometry
        }
    }

    private static void Apply(JsonObject root, string[] path, JsonNode? value, string origin)
    {
        JsonObject parent = root;
        for (int i = 0; i < path.Length - 1; i++)
        {
            parent = parent[path[i]] as JsonObject
                ?? throw new InvalidSettingException(string.Join('.', path[..(i + 1)]), Shown(value), "a known group of settings");
        }

        Merge(parent, new JsonObject { [path[^1]] = value?.DeepClone() }, _ => origin, path.Length > 1 && s_maps.Contains(path[^2]),
            string.Concat(path[..^1].Select(part => part + ".")));
    }

    private static string SettingName(string? jsonPath) =>
        string.IsNullOrEmpty(jsonPath) ? "settings" : jsonPath.TrimStart('$', '.');

    /// <summary>The allowed names when the refused value was meant for a settings enum, else null.</summary>
    private static IReadOnlyList<string>? EnumNames(string message)
    {
        string detail = message.Split(". Path:")[0];
        return detail.EndsWith(typeof(KlKind).FullName!, StringComparison.Ordinal) ? SettingNames<KlKind>.All
            : detail.EndsWith(typeof(LossType).FullName!, StringComparison.Ordinal) ? SettingNames<LossType>.All
            : detail.EndsWith(typeof(AdvantageScale).FullName!, StringComparison.Ordinal) ? SettingNames<AdvantageScale>.All
            : detail.EndsWith(typeof(ImportanceWeightCap).FullName!, StringComparison.Ordinal) ? SettingNames<ImportanceWeightCap>.All
            : null;
    }

    /// <summary>The merged value of a dotted setting name, as JSON text, for the refusal; null when not found.</summary>
    private static string? ValueAt(JsonObject root, string name) => Shown(NodeAt(root, name));

    /// <summary>A value as a refusal shows it: a string as itself (the message quotes it), anything else as JSON.</summary>
    private static string? Shown(JsonNode? value) =>
        value is JsonValue text && text.GetValueKind() == JsonValueKind.String ? text.GetValue<string>() : value?.ToJsonString();

    private static JsonNode? NodeAt(JsonObject root, string name)
    {
        JsonNode? node = root;
        foreach (string part in name.Split('.'))
        {
            int bracket = part.IndexOf('[');
            node = (node as JsonObject)?[bracket < 0 ? part : part[..bracket]];
            if (bracket >= 0 && node is JsonArray array
                && int.TryParse(part[(bracket + 1)..].TrimEnd(']'), out int index) && index < array.Count)
            {
                node = array[index];
            }
        }

        return node;
    }

    /// <summary>"a value of the right type" in the user's words: which kind of value the setting takes.</summary>
    private static string TypeWanted(string message)
    {
        string detail = message.Split(". Path:")[0];
        string kind = detail switch
        {
            _ when detail.Contains("System.Int32", StringComparison.Ordinal) =>
                "a whole number (from -2147483648 to 2147483647; see the setting's own range)",
            _ when detail.Contains("System.Int64", StringComparison.Ordinal) => "a whole number (64-bit)",
            _ when detail.Contains("System.Double", StringComparison.Ordinal) =>
                "a finite number, e.g. 0.5 (NaN and infinities are not numbers here)",
            _ when detail.Contains("System.String", StringComparison.Ordinal) => "a string in double quotes",
            _ => $"a value of the right type ({detail})",
        };
        return kind;
    }
}
