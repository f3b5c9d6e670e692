namespace Grid.Tasks.Counting;

public enum ObjectColor
{
    Red,
    Green,
    Blue,
    Yellow,
}
