using System.Globalization;

namespace Grid.Core.Settings;

/// <summary>
/// A configuration value outside its allowed range. The message names the setting as it is spelled in config files,
/// the offending value and what would be accepted, e.g.
/// <c>Invalid setting beta_min = 0.2: must be &lt;= beta_max (0.1).</c>
/// </summary>
public sealed class InvalidSettingException : ArgumentException
{
    public InvalidSettingException(string setting, object? value, string allowed)
        : base($"Invalid setting {setting} = {Format(value)}: must be {allowed}.")
    {
        Setting = setting;
        Value = value;
        Allowed = allowed;
    }

    /// <summary>The snake_case name of the setting, as in config files (e.g. <c>beta_min</c>).</summary>
    public string Setting { get; }

    /// <summary>The value that was refused.</summary>
    public object? Value { get; }

    /// <summary>What the setting accepts, phrased to follow "must be" (e.g. <c>&lt;= beta_max (0.1)</c>).</summary>
    public string Allowed { get; }

    /// <summary>The allowed-values phrase for a setting with a fixed set of names: <c>one of "a", "b"</c>.</summary>
    public static string OneOf(IEnumerable<string> names) =>
        "one of " + string.Join(", ", names.Select(name => $"\"{name}\""));

    /// <summary>Values longer than this are shown shortened, so a refusal stays one readable line.</summary>
    public const int MaxShownLength = 120;

    /// <summary>Formats a value the way config files spell it: invariant numbers, quoted strings (long ones shortened,
    /// control characters escaped).</summary>
    public static string Format(object? value) => value switch
    {
        null => "null",
        string text => $"\"{Shorten(text)}\"",
        IFormattable number => number.ToString(null, CultureInfo.InvariantCulture),
        _ => Shorten(value.ToString() ?? "null"),
    };

    private static string Shorten(string text)
    {
        string shown = text.Length <= MaxShownLength ? text : $"{text[..MaxShownLength]}... ({text.Length} characters)";
        return shown.Any(char.IsControl)
            ? string.Concat(shown.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()))
            : shown;
    }
}
