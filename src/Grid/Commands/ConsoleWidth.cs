using System.Globalization;
using Spectre.Console;

namespace Grid.Cli.Commands;

/// <summary>
/// The width Spectre.Console wraps and sizes tables to. In a terminal it is the window's. When the output is redirected
/// (a pipe, a log file) Spectre assumes 80 columns and breaks every longer line and table row; there it is the
/// <c>COLUMNS</c> environment variable when set, else <see cref="RedirectedDefault"/>, wide enough that nothing is broken.
/// Lines meant to be copied (paths, commands) go through <see cref="Copyable"/>, which never wraps.
/// </summary>
internal static class ConsoleWidth
{
    /// <summary>Columns of redirected output without <c>COLUMNS</c>: no table row or message is broken.</summary>
    public const int RedirectedDefault = 4096;

    /// <summary>The narrowest <c>COLUMNS</c> honoured; a smaller or unparsable value falls back to the default.</summary>
    public const int MinColumns = 20;

    public static void Configure()
    {
        if (Console.IsOutputRedirected)
        {
            AnsiConsole.Profile.Width = RedirectedWidth(Environment.GetEnvironmentVariable("COLUMNS"));
        }
    }

    /// <summary>The width for redirected output given the value of <c>COLUMNS</c> (null when unset).</summary>
    public static int RedirectedWidth(string? columns) =>
        int.TryParse(columns, NumberStyles.None, CultureInfo.InvariantCulture, out int width) && width >= MinColumns
            ? Math.Min(width, RedirectedDefault)
            : RedirectedDefault;

    /// <summary>
    /// One line written as is, never wrapped at any width (a terminal may fold it on screen, but a copy gets one line):
    /// for commands and paths to paste.
    /// </summary>
    public static void Copyable(string line) => Console.Out.WriteLine(line);

    /// <summary>
    /// A table under a title written as a line of its own: Spectre wraps a table's title to the table's width, which
    /// breaks long titles (and cuts names in them) over several lines.
    /// </summary>
    public static void Titled(string title, Table table)
    {
        AnsiConsole.WriteLine(title);
        AnsiConsole.Write(table);
    }
}
