using Spectre.Console;
using Spectre.Console.Rendering;

namespace Grid.Cli.Commands;

/// <summary>
/// A renderable whose every line ends by erasing the rest of the terminal line. Written while a live display runs,
/// Spectre puts it where the live region was and draws the region again below; a line shorter than the bar it lands
/// on would otherwise keep the bar's tail (a table border ending in "━━━ 100% 00:00:01").
/// </summary>
internal sealed class ClearedLines(IRenderable inner) : IRenderable
{
    private static readonly Segment EraseToLineEnd = Segment.Control("\u001b[K");

    public Measurement Measure(RenderOptions options, int maxWidth) => inner.Measure(options, maxWidth);

    public IEnumerable<Segment> Render(RenderOptions options, int maxWidth)
    {
        foreach (var segment in inner.Render(options, maxWidth))
        {
            if (segment.IsLineBreak)
            {
                yield return EraseToLineEnd;
            }

            yield return segment;
        }

        yield return EraseToLineEnd;
    }
}
