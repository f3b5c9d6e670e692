using System.Text.Json;
using System.Text.Json.Serialization;

namespace Grid.Core.Settings;

/// <summary>
/// Reads and writes a settings enum as its snake_case name ("dr_grpo" for <see cref="LossType.DrGrpo"/>), exactly:
/// no numbers, no other casing, no combinations, so the files and <c>--set</c> lines that worked with the names keep
/// working and nothing else is accepted. A bad value fails as a <see cref="JsonException"/>, which the loader turns
/// into a refusal naming the key, the value and <see cref="SettingNames{T}.All"/>.
/// </summary>
public sealed class SettingEnumConverter<T> : JsonConverter<T>
    where T : struct, Enum
{
    public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String && SettingNames<T>.TryParse(reader.GetString(), out var value))
        {
            return value;
        }

        throw new JsonException(); // the serializer names the type and the path: "could not be converted to ..."
    }

    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) =>
        writer.WriteStringValue(SettingNames<T>.Name(value));
}

/// <summary>The config spellings of a settings enum: its member names in snake_case, in declaration order.</summary>
public static class SettingNames<T>
    where T : struct, Enum
{
    private static readonly T[] s_values = Enum.GetValues<T>();

    /// <summary>Every allowed spelling, in declaration order.</summary>
    public static IReadOnlyList<string> All { get; } =
        [.. s_values.Select(v => JsonNamingPolicy.SnakeCaseLower.ConvertName(v.ToString()))];

    /// <summary>The config spelling of <paramref name="value"/>.</summary>
    public static string Name(T value)
    {
        int index = Array.IndexOf(s_values, value);
        return index >= 0 ? All[index] : value.ToString();
    }

    public static bool TryParse(string? text, out T value)
    {
        for (int i = 0; i < All.Count; i++)
        {
            if (string.Equals(All[i], text, StringComparison.Ordinal))
            {
                value = s_values[i];
                return true;
            }
        }

        value = default;
        return false;
    }

    /// <summary>The value named <paramref name="text"/>, or <see cref="InvalidSettingException"/> naming
    /// <paramref name="setting"/>, the text and the allowed names.</summary>
    public static T Parse(string setting, string? text) => TryParse(text, out var value)
        ? value
        : throw new InvalidSettingException(setting, text, InvalidSettingException.OneOf(All));
}
