using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Grid.Core.Settings;

namespace Grid.Training.Settings;

/// <summary>
/// Builds a <see cref="RunSettings"/> from layers, later wins: a preset, a JSON file, environment variables
/// (<c>GRID_RUN__KL__BETA_MAX=0.05</c>), the command line's own flags (<c>--steps</c>, ...), then <c>key=value</c>
/// overrides (<c>--set</c>), and validates it once. Unknown keys, wrong types and out-of-range values are refused with the key, the
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
        RunSettingFlags? flags = null, IEnumerable<KeyValuePair<string, string?>>? environment = null)
    {
        preset ??= "demo";
        if (!Presets.TryGetValue(preset, out var start))
        {
            throw new InvalidSettingException("preset", preset, InvalidSettingException.OneOf(Presets.Keys));
        }

        var node = JsonSerializer.SerializeToNode(start, JsonOptions)!.AsObject();
        if (settingsPath is not null)
        {
            Merge(node, ReadFile(settingsPath), settingsPath);
        }

        foreach (var (variable, assignment) in EnvironmentOverrides(environment ?? ProcessEnvironment()))
        {
            ApplyOverride(node, assignment, $"environment variable {variable}");
        }

        foreach (var assignment in (flags?.AsOverrides() ?? []).Concat(overrides ?? []))
        {
            ApplyOverride(node, assignment, "--set");
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

    private static JsonObject ReadFile(string path)
    {
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
    private static void Merge(JsonObject target, JsonObject source, string origin, bool open = false, string prefix = "")
    {
        foreach (var (name, value) in source)
        {
            string key = name;
            string setting = prefix + name;
            if (!open && !target.ContainsKey(key))
            {
                throw new InvalidSettingException(setting, value?.ToJsonString(),
                    $"a known setting (from {origin}); known here: {string.Join(", ", target.Select(p => p.Key))}");
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
                throw new InvalidSettingException(setting, value?.ToJsonString(), $"{wanted} (from {origin})");
            }

            target[key] = value?.DeepClone();
        }
    }

    /// <summary>Environment variables with this prefix set run settings: <c>__</c> separates the levels of a nested
    /// key (<c>GRID_RUN__KL__BETA_MAX</c> is <c>kl.beta_max</c>); names are case-insensitive, values read as <c>--set</c>'s.</summary>
    public const string EnvironmentPrefix = "GRID_RUN__";

    /// <summary>The <see cref="EnvironmentPrefix"/> variables as <c>key=value</c> assignments, in name order (so a
    /// run does not depend on the order the platform lists them in).</summary>
    public static IReadOnlyList<(string Variable, string Assignment)> EnvironmentOverrides(
        IEnumerable<KeyValuePair<string, string?>> environment) =>
        [.. environment
            .Where(v => v.Key.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase) && v.Value is not null)
            .OrderBy(v => v.Key, StringComparer.OrdinalIgnoreCase)
            .Select(v => (v.Key, $"{v.Key[EnvironmentPrefix.Length..].Replace("__", ".", StringComparison.Ordinal).ToLowerInvariant()}={v.Value}"))];

    private static IEnumerable<KeyValuePair<string, string?>> ProcessEnvironment() =>
        Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .Select(e => new KeyValuePair<string, string?>((string)e.Key, e.Value as string));

    private static void ApplyOverride(JsonObject root, string assignment, string origin)
    {
        int eq = assignment.IndexOf('=');
        if (eq <= 0)
        {
            throw new InvalidSettingException("set", assignment, "key=value, e.g. steps=50 or kl.beta_max=0.2");
        }

        var path = assignment[..eq].Trim().Split('.');
        var text = assignment[(eq + 1)..].Trim();
        JsonObject parent = root;
        for (int i = 0; i < path.Length - 1; i++)
        {
            parent = parent[path[i]] as JsonObject
                ?? throw new InvalidSettingException(string.Join('.', path[..(i + 1)]), text, "a known group of settings");
        }

        JsonNode? value;
        try
        {
            value = JsonNode.Parse(text, documentOptions: DocumentOptions);
        }
        catch (JsonException e) when (text.StartsWith('{') || text.StartsWith('['))
        {
            throw new InvalidSettingException(string.Join('.', path), text,
                $"valid JSON when it starts with {text[0]} ({e.Message}); give each key once");
        }
        catch (JsonException)
        {
            value = JsonValue.Create(text); // bare words are strings: task=geometry
        }

        Merge(parent, new JsonObject { [path[^1]] = value }, origin, path.Length > 1 && s_maps.Contains(path[^2]),
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
            : null;
    }

    /// <summary>The merged value of a dotted setting name, as JSON text, for the refusal; null when not found.</summary>
    private static string? ValueAt(JsonObject root, string name) => NodeAt(root, name)?.ToJsonString();

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
