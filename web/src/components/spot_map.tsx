// The Leaflet map of search results. Tiles come from SMS_WEB_TILE_URL
// (OpenStreetMap's by default); when none load (offline, blocked), the map
// turns into a plain grid and still places every marker. Markers are
// circles (no image files to bundle) and no tab stops; the list beside the
// map is the keyboard and screen-reader way to the same spots.
import L from 'leaflet';
import 'leaflet/dist/leaflet.css';
import { useEffect, useRef, useState } from 'preact/hooks';

const TILE_URL = import.meta.env.SMS_WEB_TILE_URL || 'https://tile.openstreetmap.org/{z}/{x}/{y}.png';
const TILE_ATTRIBUTION =
  import.meta.env.SMS_WEB_TILE_ATTRIBUTION ||
  '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors';

export interface MapSpot {
  id: string;
  lat: number;
  lng: number;
  label: string;
  taken: boolean;
}

interface Props {
  center: { lat: number; lng: number };
  radiusKm: number;
  spots: MapSpot[];
  selectedId: string | null;
  onSelect(id: string): void;
  onMoveEnd(center: { lat: number; lng: number }): void;
}

function markerStyle(spot: MapSpot, selected: boolean): L.CircleMarkerOptions {
  if (spot.taken)
    return {
      radius: 7,
      color: '#4b5563',
      weight: 2,
      fillColor: '#9ca3af',
      fillOpacity: 0.9,
      className: 'marker marker-taken',
    };
  return {
    radius: selected ? 10 : 7,
    color: selected ? '#7c2d12' : '#1e3a8a',
    weight: selected ? 3 : 2,
    fillColor: selected ? '#f97316' : '#2563eb',
    fillOpacity: 0.9,
    className: selected ? 'marker marker-free marker-selected' : 'marker marker-free',
  };
}

export function SpotMap({ center, radiusKm, spots, selectedId, onSelect, onMoveEnd }: Props) {
  const element = useRef<HTMLElement>(null);
  const map = useRef<L.Map | null>(null);
  const layer = useRef<L.LayerGroup | null>(null);
  const circle = useRef<L.Circle | null>(null);
  const [offline, setOffline] = useState(false);
  const moveEnd = useRef(onMoveEnd);
  moveEnd.current = onMoveEnd;

  useEffect(() => {
    const m = L.map(element.current!, { zoomControl: true }).setView([center.lat, center.lng], 16);
    const tiles = L.tileLayer(TILE_URL, { maxZoom: 19, attribution: TILE_ATTRIBUTION });
    let loaded = 0;
    tiles.on('tileload', () => {
      loaded++;
      setOffline(false);
    });
    // Leaflet fires `load` even when every tile failed, so failures are counted instead.
    tiles.on('tileerror', () => {
      if (loaded === 0) setOffline(true);
    });
    tiles.addTo(m);
    layer.current = L.layerGroup().addTo(m);
    circle.current = L.circle([center.lat, center.lng], {
      radius: radiusKm * 1000,
      color: '#1e3a8a',
      weight: 1,
      fill: false,
      interactive: false,
    }).addTo(m);
    m.on('moveend', () => {
      const c = m.getCenter();
      moveEnd.current({ lat: c.lat, lng: c.lng });
    });
    m.getContainer().setAttribute('aria-label', 'Map of the spots found; the list of spots has the same spots');
    map.current = m;
    return () => m.remove();
  }, []);

  // A new search centre or radius: show the searched circle and bring it into view.
  useEffect(() => {
    const m = map.current!;
    circle.current!.setLatLng([center.lat, center.lng]).setRadius(radiusKm * 1000);
    m.fitBounds(circle.current!.getBounds(), { animate: false });
  }, [center.lat, center.lng, radiusKm]);

  useEffect(() => {
    const group = layer.current!;
    group.clearLayers();
    for (const spot of spots) {
      const marker = L.circleMarker([spot.lat, spot.lng], markerStyle(spot, spot.id === selectedId));
      marker.bindTooltip(spot.taken ? `${spot.label} (taken)` : spot.label);
      marker.on('click', () => onSelect(spot.id));
      marker.addTo(group);
      const path = marker.getElement();
      path?.setAttribute('data-spot-id', spot.id);
      path?.setAttribute('data-state', spot.taken ? 'taken' : 'free');
      // Not a tab stop: a hundred unnamed markers stood before the list, which is the keyboard way.
      path?.setAttribute('tabindex', '-1');
    }
  }, [spots, selectedId]);

  return (
    <div class={offline ? 'map-frame map-offline' : 'map-frame'}>
      <section ref={element} class="map" />
      {offline && <p class="map-note">Map images could not be loaded; spots are still placed on this grid.</p>}
    </div>
  );
}
