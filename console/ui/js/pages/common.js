// changed returns a function that answers true when its argument is the same
// (as JSON) as at its last call: a poll then skips redrawing.
export function changed() {
  let last = null;
  return (data) => {
    const now = JSON.stringify(data);
    const same = now === last;
    last = now;
    return same;
  };
}

export const policies = ['worst-fit', 'best-fit', 'traffic-most'];
